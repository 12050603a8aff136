-- GENERATED from catalog/ by `govlake dbt generate-staging`; do not edit by hand.
-- 统计联网直报（法人库·统计局）: the latest row per uscc, year across bronze loads.
{{ latest_per_key(
  source('bronze', 'statistics'),
  ['uscc', 'year'],
  [
    'uscc',
    'year',
    'stat_category',
    'stat_in_district',
    'output_value_wan',
    'added_value_wan',
    'energy_tce',
    '_load_date'
  ],
  distribute_by='uscc'
) }}
