-- 诉求办理时效周报（周一起）: by period, department and street. Rates are over the tickets whose outcome
-- is known (closed, or open past the due time); satisfaction averages over rated tickets.
-- The three reports (daily/weekly/monthly) differ only in the period expression.
select
    to_date(date_trunc('week', f.submit_time))                                                                   as period_start,
    f.dept_code,
    coalesce(d.dept_name, '未分派')                                            as dept_name,
    f.street_code,
    count(*)                                                                  as ticket_count,
    sum(case when f.is_closed then 1 else 0 end)                              as closed_count,
    cast(avg(case when f.is_on_time is null then null when f.is_on_time then 1.0 else 0.0 end) as double) as on_time_rate,
    cast(avg(case when f.first_contact_within_24h is null then null when f.first_contact_within_24h then 1.0 else 0.0 end) as double) as first_contact_24h_rate,
    cast(avg(f.satisfaction_response) as double)                              as avg_satisfaction_response,
    cast(avg(f.satisfaction_attitude) as double)                              as avg_satisfaction_attitude,
    cast(avg(f.satisfaction_result) as double)                                as avg_satisfaction_result,
    cast(avg(f.satisfaction_overall) as double)                               as avg_satisfaction_overall,
    cast(avg(case when f.is_reopened then 1.0 else 0.0 end) as double)        as reopen_rate
from {{ ref('fct_petition_sla') }} f
left join {{ ref('dim_departments') }} d on d.dept_code = f.dept_code
group by to_date(date_trunc('week', f.submit_time)), f.dept_code, coalesce(d.dept_name, '未分派'), f.street_code
