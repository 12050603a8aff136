-- GENERATED from catalog/ by `govlake dbt generate-staging`; do not edit by hand.
-- 信用记录（法人库·信用中国（深圳））: the latest row per record_id across bronze loads.
{{ latest_per_key(
  source('bronze', 'credit_records'),
  ['record_id'],
  [
    'record_id',
    'uscc',
    'record_type',
    'decision_date',
    'severity',
    'amount_wan',
    'issuer',
    'repaired_date',
    '_load_date'
  ],
  distribute_by='uscc'
) }}
