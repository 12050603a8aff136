-- GENERATED from catalog/ by `govlake dbt generate-staging`; do not edit by hand.
-- 资助拨付记录（区企业服务平台）: the latest row per award_id across bronze loads.
{{ latest_per_key(
  source('bronze', 'subsidies'),
  ['award_id'],
  [
    'award_id',
    'uscc',
    'policy_code',
    'dept_code',
    'award_date',
    'amount_wan',
    '_load_date'
  ],
  distribute_by='uscc'
) }}
