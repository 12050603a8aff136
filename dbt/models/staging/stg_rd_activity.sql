-- GENERATED from catalog/ by `govlake dbt generate-staging`; do not edit by hand.
-- 年度研发活动（法人库·科技创新局）: the latest row per uscc, year across bronze loads.
{{ latest_per_key(
  source('bronze', 'rd_activity'),
  ['uscc', 'year'],
  [
    'uscc',
    'year',
    'rd_expense_wan',
    'rd_expense_domestic_wan',
    'tech_contract_wan',
    'rd_center_level',
    'new_products',
    '_load_date'
  ],
  distribute_by='uscc'
) }}
