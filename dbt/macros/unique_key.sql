{#- Composite-key uniqueness (dbt-core's `unique` takes one column; no package hub here).
    Usage on a model:  data_tests: [{unique_key: {arguments: {columns: [uscc, year]}}}] -#}
{% test unique_key(model, columns) %}
select {{ columns | join(', ') }}, count(*) as n_rows
from {{ model }}
group by {{ columns | join(', ') }}
having count(*) > 1
{% endtest %}
