-- 群体诉求 membership: each ticket listed in a group alert of the signals step
-- (source signals.group_petition_alerts), for the petition reports. Every as_of partition is the
-- signals' view over its look-back, so one alert appears on many days and can grow: a ticket
-- takes the alert of the latest as_of (up to var('load_date'), so re-runs of a past date agree)
-- that lists it.
with alerts as (
    select as_of, alert_id, severity, requester_count, subject, ticket_ids
    from {{ source('signals', 'group_petition_alerts') }}
    {%- if var('load_date', none) %}
    where as_of <= to_date('{{ var('load_date') }}')
    {%- endif %}
), members as (
    select explode(ticket_ids) as ticket_id, alert_id, as_of, severity, requester_count, subject
    from alerts
), ranked as (
    select *, row_number() over (partition by ticket_id order by as_of desc, alert_id) as rn
    from members
)
select
    ticket_id,
    alert_id,
    as_of                                                                     as alert_as_of,
    severity                                                                  as alert_severity,
    requester_count                                                           as alert_requester_count,
    subject                                                                   as alert_subject
from ranked
where rn = 1
