-- GENERATED from catalog/ by `govlake dbt generate-staging`; do not edit by hand.
-- 知识产权（法人库·市场监管局（知识产权））: the latest row per ip_id across bronze loads.
{{ latest_per_key(
  source('bronze', 'ip_records'),
  ['ip_id'],
  [
    'ip_id',
    'uscc',
    'ip_type',
    'apply_date',
    'grant_date',
    'status',
    'is_pct',
    '_load_date'
  ],
  distribute_by='uscc'
) }}
