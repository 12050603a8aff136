{#- Views in the embedded (session) target are GLOBAL TEMPORARY views.
    Why: bronze is Delta read by delta-rs file lists, so it can only be exposed to SQL as temp
    views (global_temp.bronze__<source>), and Spark refuses a persistent view over a temp view
    (INVALID_TEMP_OBJ_REFERENCE). Global temp views are shared by every session of the
    SparkContext, are referenced as global_temp.<model>, and vanish with the process, so no stale
    catalog entries survive a run. On a cluster target views are ordinary persistent views. -#}

{% macro spark__create_view_as(relation, sql) -%}
  {%- set is_global_temp = relation.schema == 'global_temp' -%}
  create or replace {{ 'global temporary ' if is_global_temp }}view
    {{ relation.identifier if is_global_temp else relation }}
  {% if config.persist_column_docs() -%}
    {% set model_columns = model.columns %}
    {% set query_columns = get_columns_in_query(sql) %}
    (
    {{ get_persist_docs_column_list(model_columns, query_columns) }}
    )
  {% endif %}
  {{ comment_clause() }}
  {%- set contract_config = config.get('contract') -%}
  {%- if contract_config.enforced -%}
    {{ get_assert_columns_equivalent(sql) }}
  {%- endif %}
  as
    {{ sql }}
{%- endmacro %}

{% macro spark__create_schema(relation) -%}
  {%- if relation.schema != 'global_temp' -%}
    {%- call statement('create_schema') -%}
      create schema if not exists {{ relation }}
    {%- endcall -%}
  {%- endif -%}
{%- endmacro %}
