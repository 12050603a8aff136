{#
  诉求办理时效报表 (日报/周报/月报): one body for the three reports, which differ only in the period
  expression. By period, department, street and 一级分类. Rates are over the tickets whose outcome
  is known (on time: closed, or open past due; contact: contacted, or past the contact due time);
  回退率 is over rated tickets (the rule can only fire on a rating). Rates average 1.0d/0.0d so
  Spark keeps doubles (decimal literals would round the average to five places).
  群体诉求: the row's tickets that belong to a group alert of the signals step
  (int_petition_group_members); one alert can span rows (departments, streets), so a period's
  number of alerts is the distinct count over group_alert_ids, not the sum of group_alert_count.
#}
{% macro petition_sla_report(period) %}
select
    {{ period }}                                                              as period_start,
    f.dept_code,
    coalesce(d.dept_name, '未分派')                                           as dept_name,
    f.street_code,
    f.category_l1,
    count(*)                                                                  as ticket_count,
    sum(case when f.is_closed then 1 else 0 end)                              as closed_count,
    cast(avg(case when f.is_on_time is null then null when f.is_on_time then 1.0d else 0.0d end) as double) as on_time_rate,
    cast(avg(case when f.first_contact_on_time is null then null when f.first_contact_on_time then 1.0d else 0.0d end) as double) as first_contact_on_time_rate,
    cast(avg(case when f.has_pre_evaluation is null then null when f.has_pre_evaluation then 1.0d else 0.0d end) as double) as pre_evaluation_rate,
    cast(avg(f.handling_days) as double)                                      as avg_handling_days,
    cast(avg(f.handling_workdays) as double)                                  as avg_handling_workdays,
    cast(avg(f.satisfaction_speed) as double)                                 as avg_satisfaction_speed,
    cast(avg(f.satisfaction_effect) as double)                                as avg_satisfaction_effect,
    cast(avg(f.satisfaction_experience) as double)                            as avg_satisfaction_experience,
    cast(avg(f.satisfaction_feedback) as double)                              as avg_satisfaction_feedback,
    sum(case when f.is_rated then 1 else 0 end)                              as rated_count,
    sum(case when f.is_returned then 1 else 0 end)                            as returned_count,
    cast(avg(case when not f.is_rated then null when f.is_returned then 1.0d else 0.0d end) as double) as return_rate,
    sum(case when f.is_escalated then 1 else 0 end)                           as escalated_count,
    count(distinct g.alert_id)                                                as group_alert_count,
    count(g.alert_id)                                                         as group_ticket_count,
    sort_array(collect_set(g.alert_id))                                       as group_alert_ids,
    sort_array(collect_list(g.ticket_id))                                     as group_ticket_ids
from {{ ref('fct_petition_sla') }} f
left join {{ ref('dim_departments') }} d on d.dept_code = f.dept_code
left join {{ ref('int_petition_group_members') }} g on g.ticket_id = f.ticket_id
group by {{ period }}, f.dept_code, coalesce(d.dept_name, '未分派'), f.street_code, f.category_l1
{% endmacro %}
