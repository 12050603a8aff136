{#- Bronze appends one partition per _load_date; a record re-sent in a later load supersedes the
    earlier one. Keep the latest row per key, looking only at loads up to var('load_date') so a
    re-run for a past date sees what that date saw. -#}
{% macro latest_per_key(relation, key_columns, columns) %}
    select {{ columns | join(',\n           ') }}
    from (
        select *, row_number() over (
            partition by {{ key_columns | join(', ') }}
            order by _load_date desc
        ) as _latest_rank
        from {{ relation }}
        {%- if var('load_date', none) %}
        where _load_date <= date'{{ var("load_date") }}'
        {%- endif %}
    ) as ranked
    where _latest_rank = 1
{% endmacro %}
