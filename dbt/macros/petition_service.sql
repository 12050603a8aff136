-- GENERATED from catalog/ by `govlake dbt generate-staging`; do not edit by hand.
-- Values of catalog/petition_service.yaml; the petition marts call these, never literals.
-- 办结前预评价短信: fct_petition_sla.has_pre_evaluation (sent before the close).

{# 首次联系时限（派单后小时数） #}
{% macro petition_contact_hours() %}24{% endmacro %}

{# 简易事项（当日办结）的诉求类型 #}
{% macro petition_simple_request_types() %}'咨询'{% endmacro %}

{# 一般事项办结时限（天） #}
{% macro petition_close_days() %}7{% endmacro %}

{# 法定节假日放假日（含调休），catalog/work_calendar.yaml #}
{% macro petition_holidays() %}date'2025-01-01', date'2025-01-28', date'2025-01-29', date'2025-01-30', date'2025-01-31', date'2025-02-01', date'2025-02-02', date'2025-02-03', date'2025-02-04', date'2025-04-04', date'2025-04-05', date'2025-04-06', date'2025-05-01', date'2025-05-02', date'2025-05-03', date'2025-05-04', date'2025-05-05', date'2025-05-31', date'2025-06-01', date'2025-06-02', date'2025-10-01', date'2025-10-02', date'2025-10-03', date'2025-10-04', date'2025-10-05', date'2025-10-06', date'2025-10-07', date'2025-10-08', date'2026-01-01', date'2026-01-02', date'2026-01-03', date'2026-02-15', date'2026-02-16', date'2026-02-17', date'2026-02-18', date'2026-02-19', date'2026-02-20', date'2026-02-21', date'2026-02-22', date'2026-02-23', date'2026-04-04', date'2026-04-05', date'2026-04-06', date'2026-05-01', date'2026-05-02', date'2026-05-03', date'2026-05-04', date'2026-05-05', date'2026-06-19', date'2026-06-20', date'2026-06-21', date'2026-09-25', date'2026-09-26', date'2026-09-27', date'2026-10-01', date'2026-10-02', date'2026-10-03', date'2026-10-04', date'2026-10-05', date'2026-10-06', date'2026-10-07'{% endmacro %}

{# 调休上班的周末，catalog/work_calendar.yaml #}
{% macro petition_extra_workdays() %}date'2025-01-26', date'2025-02-08', date'2025-04-27', date'2025-09-28', date'2025-10-11', date'2026-01-04', date'2026-02-14', date'2026-02-28', date'2026-05-09', date'2026-09-20', date'2026-10-10'{% endmacro %}

{# 不满意回退：首次评价触发回退 #}
{% macro petition_dissatisfied() %}(satisfaction_effect <= 2 OR satisfaction_feedback <= 2){% endmacro %}

{# 专项督办（领导督办）：重办后二次评价仍触发回退规则 #}
{% macro petition_redissatisfied() %}(resatisfaction_effect <= 2 OR resatisfaction_feedback <= 2){% endmacro %}
