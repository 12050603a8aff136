-- GENERATED from catalog/ by `govlake dbt generate-staging`; do not edit by hand.
-- 融资事件（法人库·金融工作局）: the latest row per event_id across bronze loads.
{{ latest_per_key(
  source('bronze', 'financing'),
  ['event_id'],
  [
    'event_id',
    'uscc',
    'event_date',
    'round',
    'amount_wan',
    'investor_type',
    '_load_date'
  ],
  distribute_by='uscc'
) }}
