-- 诉求工单时效与满意度事实表: one row per ticket (latest state from stg_petitions).
-- Targets (民意速办): first contact within 24 h; 咨询 is a simple matter closed the same day;
-- everything else closes within 7 days. An open ticket past its due time counts as late;
-- "now" is the end of var('load_date') when given (re-runs of a past date agree), else the clock.
{%- set now_expr = "cast(date_add(to_date('" ~ var('load_date') ~ "'), 1) as timestamp)" if var('load_date', none) else "current_timestamp()" %}
with t as (
    select
        ticket_id, channel, submit_time, request_type, handling_dept_code, street_code, community_code,
        status, first_contact_time, closed_time, satisfaction_response, satisfaction_attitude,
        satisfaction_result, satisfaction_overall, reopen_count,
        case when request_type = '咨询' then 'simple' else 'normal' end as matter_class,
        {{ now_expr }} as evaluated_at
    from {{ ref('stg_petitions') }}
), d as (
    select *,
        case when matter_class = 'simple' then cast(date_add(to_date(submit_time), 1) as timestamp)
             else submit_time + interval 7 days end as due_time,
        submit_time + interval 24 hours as first_contact_due_time
    from t
)
select
    ticket_id,
    channel,
    submit_time,
    to_date(submit_time)                                                      as submit_date,
    request_type,
    matter_class,
    coalesce(handling_dept_code, 'UNASSIGNED')                                as dept_code,
    coalesce(street_code, 'UNKNOWN')                                          as street_code,
    community_code,
    status,
    cast((unix_timestamp(first_contact_time) - unix_timestamp(submit_time)) / 3600.0 as double) as first_contact_hours,
    case when first_contact_time is not null then first_contact_time <= first_contact_due_time
         when evaluated_at > first_contact_due_time then false end           as first_contact_within_24h,
    cast((unix_timestamp(closed_time) - unix_timestamp(submit_time)) / 3600.0 as double) as close_hours,
    due_time,
    closed_time is not null                                                   as is_closed,
    case when closed_time is not null then closed_time <= due_time
         when evaluated_at > due_time then false end                         as is_on_time,
    case when closed_time is null and evaluated_at > due_time then true else false end as is_overdue,
    satisfaction_response,
    satisfaction_attitude,
    satisfaction_result,
    satisfaction_overall,
    coalesce(reopen_count, 0)                                                 as reopen_count,
    coalesce(reopen_count, 0) > 0                                             as is_reopened
from d
