-- GENERATED from catalog/ by `govlake dbt generate-staging`; do not edit by hand.
-- 部门（catalog/departments.yaml）: the whole reference table, one row per code.
select
    code,
    name,
    kind,
    street_code,
    issues_policies,
    petition_classes,
    responsibility_count
from {{ source('bronze', 'departments') }}
