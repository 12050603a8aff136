-- GENERATED from catalog/ by `govlake dbt generate-staging`; do not edit by hand.
-- Values of catalog/petition_service.yaml; the petition marts call these, never literals.
-- 办结前预评价短信: fct_petition_sla.has_pre_evaluation (sent before the close).

{# 首次联系时限（派单后小时数） #}
{% macro petition_contact_hours() %}24{% endmacro %}

{# 简易事项（当日办结）的诉求类型 #}
{% macro petition_simple_request_types() %}'咨询'{% endmacro %}

{# 一般事项办结时限（天） #}
{% macro petition_close_days() %}7{% endmacro %}

{# 不满意回退：首次评价触发回退 #}
{% macro petition_dissatisfied() %}(satisfaction_effect <= 2 OR satisfaction_feedback <= 2){% endmacro %}

{# 专项督办（领导督办）：重办后二次评价仍触发回退规则 #}
{% macro petition_redissatisfied() %}(resatisfaction_effect <= 2 OR resatisfaction_feedback <= 2){% endmacro %}
