{#- Session target: views go to `global_temp` as global temporary views (see session_views.sql);
    tables (and every model on other targets) go to the folder's schema as is
    (staging / intermediate / marts), not <target>_<schema>. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if target.name == 'session' and node.config.materialized == 'view' -%}
        global_temp
    {%- else -%}
        {{ (custom_schema_name or target.schema) | trim }}
    {%- endif -%}
{%- endmacro %}
