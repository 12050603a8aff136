-- GENERATED from catalog/ by `govlake dbt generate-staging`; do not edit by hand.
-- 年度社保参保信息（法人库·人力资源局）: the latest row per uscc, year across bronze loads.
{{ latest_per_key(
  source('bronze', 'social_insurance'),
  ['uscc', 'year'],
  [
    'uscc',
    'year',
    'insured_headcount',
    'avg_insured_headcount',
    'avg_monthly_wage',
    'bachelor_plus_count',
    'rd_staff_count',
    'new_hires',
    'leavers',
    '_load_date'
  ],
  distribute_by='uscc'
) }}
