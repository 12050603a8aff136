-- GENERATED from catalog/ by `govlake dbt generate-staging`; do not edit by hand.
-- 企业登记信息（法人库·市场监管局）: the latest row per uscc across bronze loads.
{{ latest_per_key(
  source('bronze', 'enterprise_registry'),
  ['uscc'],
  [
    'uscc',
    'name',
    'legal_rep',
    'enterprise_type',
    'industry_code',
    'reg_date',
    'reg_capital_wan',
    'status',
    'street_code',
    'community_code',
    'address',
    'phone',
    'is_listed',
    '_load_date'
  ],
  distribute_by='uscc'
) }}
