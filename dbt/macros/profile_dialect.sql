{#- What the generated profile models (govlake profile generate) write differently for Spark and
    DuckDB. The same models run on both: Spark's build (the session target) and the DuckDB
    projection of the build's workers and of the incremental (the duckdb target, compiled by
    govlake.profile.compiled), so what dbt compiles is what runs.

    Dates. Spark: literals from the dbt vars as_of (default: load_date, else today) and
    changed_since. DuckDB: the variables as_of (DATE), y1 (INTEGER, year(as_of) - 1) and
    changed_since (DATE), set by whoever runs the compiled SQL (`SET VARIABLE`), so one compile
    serves every date; DuckDB folds them into constants when it binds the query. -#}

{% macro profile_as_of_date() -%}
  {{ return(var('as_of', none) or var('load_date', none) or modules.datetime.date.today().isoformat()) }}
{%- endmacro %}

{#- The profile date as a SQL DATE. -#}
{% macro profile_as_of() -%}
  {{ return(adapter.dispatch('profile_as_of', 'govlake')()) }}
{%- endmacro %}
{% macro spark__profile_as_of() -%}
  DATE '{{ profile_as_of_date() }}'
{%- endmacro %}
{% macro duckdb__profile_as_of() -%}
  getvariable('as_of')
{%- endmacro %}

{#- y1 - back as a SQL integer; y1 = year(as_of) - 1, the last complete year. -#}
{% macro profile_year(back) -%}
  {{ return(adapter.dispatch('profile_year', 'govlake')(back)) }}
{%- endmacro %}
{% macro spark__profile_year(back) -%}
  {{ (profile_as_of_date() | string)[:4] | int - 1 - back }}
{%- endmacro %}
{% macro duckdb__profile_year(back) -%}
  {{ "getvariable('y1')" if back == 0 else "(getvariable('y1') - " ~ back ~ ")" }}
{%- endmacro %}

{#- The first load date of an incremental's scope (the scope model reads it only when the dbt var
    changed_since is set). -#}
{% macro profile_changed_since() -%}
  {{ return(adapter.dispatch('profile_changed_since', 'govlake')()) }}
{%- endmacro %}
{% macro spark__profile_changed_since() -%}
  DATE '{{ var("changed_since") }}'
{%- endmacro %}
{% macro duckdb__profile_changed_since() -%}
  getvariable('changed_since')
{%- endmacro %}

{#- Days from date a to date b (SQL expressions). -#}
{% macro profile_days(a, b) -%}
  {{ return(adapter.dispatch('profile_days', 'govlake')(a, b)) }}
{%- endmacro %}
{% macro spark__profile_days(a, b) -%}
  datediff({{ b }}, {{ a }})
{%- endmacro %}
{% macro duckdb__profile_days(a, b) -%}
  date_diff('day', {{ a }}, {{ b }})
{%- endmacro %}

{#- Hours from timestamp a to timestamp b, fractional. -#}
{% macro profile_hours(a, b) -%}
  {{ return(adapter.dispatch('profile_hours', 'govlake')(a, b)) }}
{%- endmacro %}
{% macro spark__profile_hours(a, b) -%}
  ((unix_timestamp({{ b }}) - unix_timestamp({{ a }})) / 3600.0)
{%- endmacro %}
{% macro duckdb__profile_hours(a, b) -%}
  (date_diff('second', {{ a }}, {{ b }}) / 3600.0)
{%- endmacro %}

{#- count(DISTINCT x). Spark: size(collect_set(x)), the same number (nulls ignored by both): two
    or more distinct aggregates over different inputs in one GROUP BY make Spark expand every
    source row once per distinct input, and its generated switch exceeded the JVM's 8 KB JIT
    limit, so it ran interpreted (sqlgen._distinct_counts). -#}
{% macro profile_count_distinct(x) -%}
  {{ return(adapter.dispatch('profile_count_distinct', 'govlake')(x)) }}
{%- endmacro %}
{% macro spark__profile_count_distinct(x) -%}
  size(collect_set({{ x }}))
{%- endmacro %}
{% macro duckdb__profile_count_distinct(x) -%}
  count(DISTINCT {{ x }})
{%- endmacro %}
