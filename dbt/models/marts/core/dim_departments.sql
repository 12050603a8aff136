-- 部门维表: every department and street office of the district, with its kind and whether it
-- issues enterprise subsidy policies. Small, but public: proves contract + publish end to end.
select
    code                              as dept_code,
    name                              as dept_name,
    kind                              as dept_kind,
    street_code,
    issues_policies,
    kind = '街道'                      as is_street_office
from {{ ref('stg_departments') }}
