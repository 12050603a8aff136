-- GENERATED from catalog/ by `govlake dbt generate-staging`; do not edit by hand.
-- 电子证照与资质荣誉（电子证照库）: the latest row per cert_id across bronze loads.
{{ latest_per_key(
  source('bronze', 'certificates'),
  ['cert_id'],
  [
    'cert_id',
    'uscc',
    'cert_type',
    'cert_no',
    'issuer',
    'issue_date',
    'expiry_date',
    'status',
    '_load_date'
  ],
  distribute_by='uscc'
) }}
