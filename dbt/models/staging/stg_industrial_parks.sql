-- GENERATED from catalog/ by `govlake dbt generate-staging`; do not edit by hand.
-- 产业园区空间库（区工业和信息化局·产业空间信息平台）: the latest row per park_id across bronze loads.
{{ latest_per_key(
  source('bronze', 'industrial_parks'),
  ['park_id'],
  [
    'park_id',
    'park_name',
    'street_code',
    'street_name',
    'community_name',
    'address',
    'building_type',
    'total_area_sqm',
    'vacant_area_sqm',
    'rent_yuan_sqm',
    'floor_height_m',
    'elevator_load_kg',
    'power_kva',
    'eia_class',
    'available_from',
    'contact_name',
    'contact_phone',
    '_load_date'
  ]
) }}
