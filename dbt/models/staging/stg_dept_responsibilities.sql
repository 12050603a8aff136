-- GENERATED from catalog/ by `govlake dbt generate-staging`; do not edit by hand.
-- 部门权责清单关键词（catalog/departments.yaml）: the whole reference table, one row per dept_code, matter, keyword.
select
    dept_code,
    dept_name,
    matter,
    keyword
from {{ source('bronze', 'dept_responsibilities') }}
