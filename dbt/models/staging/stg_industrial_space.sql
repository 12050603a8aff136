-- GENERATED from catalog/ by `govlake dbt generate-staging`; do not edit by hand.
-- 产业空间使用（区工业和信息化局）: the latest row per lease_id across bronze loads.
{{ latest_per_key(
  source('bronze', 'industrial_space'),
  ['lease_id'],
  [
    'lease_id',
    'uscc',
    'park_name',
    'space_type',
    'area_sqm',
    'monthly_rent_yuan_sqm',
    'is_owned',
    'start_date',
    'end_date',
    '_load_date'
  ],
  distribute_by='uscc'
) }}
