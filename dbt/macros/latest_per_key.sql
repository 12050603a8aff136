{#- Bronze appends one partition per _load_date; a record re-sent in a later load supersedes the
    earlier one. Keep the latest row per key, looking only at loads up to var('load_date') so a
    re-run for a past date sees what that date saw.
    distribute_by (the enterprise column of a profile source): the rows leave staging hash-
    partitioned on it, so the profile's per-enterprise aggregates need no shuffle of their wide
    partial buffers (docs/profile.md). Inside the latest-row window when it is part of the key
    (the window's shuffle is then on it alone), after it otherwise. -#}
{% macro latest_per_key(relation, key_columns, columns, distribute_by=none) %}
  {{ return(adapter.dispatch('latest_per_key', 'govlake')(relation, key_columns, columns, distribute_by)) }}
{% endmacro %}

{% macro default__latest_per_key(relation, key_columns, columns, distribute_by=none) %}
    select {{ columns | join(',\n           ') }}
    from (
        select *, row_number() over (
            partition by {{ key_columns | join(', ') }}
            order by _load_date desc
        ) as _latest_rank
        from (
            select * from {{ relation }}
            {%- if var('load_date', none) %}
            where _load_date <= date'{{ var("load_date") }}'
            {%- endif %}
            {%- if distribute_by and distribute_by in key_columns %}
            distribute by {{ distribute_by }}
            {%- endif %}
        ) as loaded
    ) as ranked
    where _latest_rank = 1
    {%- if distribute_by and distribute_by not in key_columns %}
    distribute by {{ distribute_by }}
    {%- endif %}
{% endmacro %}

{#- DuckDB (the incremental profile build, govlake.profile.changed): loads up to the DuckDB
    variable as_of. With the var changed_since (an incremental), only the enterprises of the table
    changed_scope that its runner made: selected before the window, by the enterprise column when
    it is part of the key, else by the keys that ever had a row of an enterprise in scope (a
    record moved to another enterprise leaves the first one's rows); then the latest rows by the
    enterprise column. -#}
{% macro duckdb__latest_per_key(relation, key_columns, columns, distribute_by=none) %}
    {%- set keys = key_columns | join(', ') %}
    {%- set scoped = var('changed_since', none) and distribute_by %}
    {%- set in_scope = distribute_by ~ ' IN (SELECT uscc FROM changed_scope)' %}
    select {{ columns | join(',\n           ') }}
    from (
        select *, row_number() over (
            partition by {{ keys }}
            order by _load_date desc
        ) as _latest_rank
        from {{ relation }}
        where _load_date <= getvariable('as_of')
        {%- if scoped and distribute_by in key_columns %}
          and {{ in_scope }}
        {%- elif scoped %}
          and ({{ keys }}) IN (SELECT {{ keys }} FROM {{ relation }} WHERE {{ in_scope }})
        {%- endif %}
    ) as ranked
    where _latest_rank = 1
    {%- if scoped and distribute_by not in key_columns %}
      and {{ in_scope }}
    {%- endif %}
{% endmacro %}
