-- 诉求工单时效与满意度事实表: one row per ticket (latest state from stg_petitions).
-- Service levels and the 不满意回退 / 专项督办 rule come from catalog/petition_service.yaml through
-- the generated macros in macros/petition_service.sql, so the mart and the catalog cannot drift.
-- 回退 and 督办 are derived here from the ratings the rule names, not taken from a recorded count.
-- An open ticket past its due time counts as late; "now" is the end of var('load_date') when
-- given (re-runs of a past date agree), else the clock.
{%- set now_expr = "cast(date_add(to_date('" ~ var('load_date') ~ "'), 1) as timestamp)" if var('load_date', none) else "current_timestamp()" %}
with t as (
    select
        ticket_id, channel, submit_time, request_type, handling_dept_code, street_code, community_code,
        category_l1, status, dispatched_time, first_contact_time, pre_eval_time, closed_time, rated_time,
        satisfaction_speed, satisfaction_effect, satisfaction_experience, satisfaction_feedback,
        reclosed_time, rerated_time,
        resatisfaction_speed, resatisfaction_effect, resatisfaction_experience, resatisfaction_feedback,
        case when request_type in ({{ petition_simple_request_types() }}) then 'simple' else 'normal' end as matter_class,
        coalesce({{ petition_dissatisfied() }}, false)                        as is_returned,
        coalesce({{ petition_redissatisfied() }}, false)                      as is_redissatisfied,
        {{ now_expr }} as evaluated_at
    from {{ ref('stg_petitions') }}
), d as (
    select *,
        case when matter_class = 'simple' then cast(date_add(to_date(submit_time), 1) as timestamp)
             else submit_time + make_interval(0, 0, 0, {{ petition_close_days() }}) end as due_time,
        -- the contact clock starts at assignment (派单); a ticket not yet assigned runs from submit
        coalesce(dispatched_time, submit_time) + make_interval(0, 0, 0, 0, {{ petition_contact_hours() }}) as first_contact_due_time
    from t
)
select
    ticket_id,
    channel,
    submit_time,
    to_date(submit_time)                                                      as submit_date,
    request_type,
    matter_class,
    coalesce(nullif(handling_dept_code, ''), 'UNASSIGNED')                    as dept_code,
    coalesce(nullif(street_code, ''), 'UNKNOWN')                              as street_code,
    community_code,
    coalesce(nullif(category_l1, ''), '未分类')                               as category_l1,
    status,
    dispatched_time,
    cast((unix_timestamp(first_contact_time) - unix_timestamp(coalesce(dispatched_time, submit_time))) / 3600.0 as double) as first_contact_hours,
    case when first_contact_time is not null then first_contact_time <= first_contact_due_time
         when evaluated_at > first_contact_due_time then false end           as first_contact_on_time,
    case when closed_time is not null then coalesce(pre_eval_time <= closed_time, false) end as has_pre_evaluation,
    closed_time,
    cast((unix_timestamp(closed_time) - unix_timestamp(submit_time)) / 3600.0 as double) as close_hours,
    cast((unix_timestamp(closed_time) - unix_timestamp(submit_time)) / 86400.0 as double) as handling_days,
    -- working days: calendar days less the days off strictly between the submit and close dates:
    -- weekends unless made working days (调休上班), and public holidays (work_calendar of
    -- catalog/petition_service.yaml)
    cast((unix_timestamp(closed_time) - unix_timestamp(submit_time)) / 86400.0
         - case when datediff(to_date(closed_time), to_date(submit_time)) >= 2 then
               size(filter(sequence(date_add(to_date(submit_time), 1), date_sub(to_date(closed_time), 1)),
                           x -> (dayofweek(x) in (1, 7) and x not in ({{ petition_extra_workdays() }}))
                                or x in ({{ petition_holidays() }})))
           else 0 end as double)                                              as handling_workdays,
    due_time,
    closed_time is not null and (not is_returned or reclosed_time is not null) as is_closed,
    case when closed_time is not null then closed_time <= due_time
         when evaluated_at > due_time then false end                         as is_on_time,
    case when closed_time is null and evaluated_at > due_time then true else false end as is_overdue,
    rated_time,
    rated_time is not null or coalesce(satisfaction_speed, satisfaction_effect, satisfaction_experience,
                                       satisfaction_feedback) is not null as is_rated,
    satisfaction_speed,
    satisfaction_effect,
    satisfaction_experience,
    satisfaction_feedback,
    is_returned,
    reclosed_time,
    rerated_time,
    resatisfaction_speed,
    resatisfaction_effect,
    resatisfaction_experience,
    resatisfaction_feedback,
    is_returned and is_redissatisfied                                         as is_escalated
from d
