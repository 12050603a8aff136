-- GENERATED from catalog/ by `govlake dbt generate-staging`; do not edit by hand.
-- 年度纳税信息（法人库·税务局）: the latest row per uscc, year across bronze loads.
{{ latest_per_key(
  source('bronze', 'tax_annual'),
  ['uscc', 'year'],
  [
    'uscc',
    'year',
    'revenue_wan',
    'total_tax_wan',
    'vat_wan',
    'cit_wan',
    'profit_wan',
    'export_wan',
    'hightech_revenue_wan',
    'rd_deduction_wan',
    'tax_credit_grade',
    '_load_date'
  ],
  distribute_by='uscc'
) }}
