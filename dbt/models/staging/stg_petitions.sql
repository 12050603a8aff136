-- GENERATED from catalog/ by `govlake dbt generate-staging`; do not edit by hand.
-- 民生诉求工单（民意速办平台）: the latest row per ticket_id across bronze loads.
{{ latest_per_key(
  source('bronze', 'petitions'),
  ['ticket_id'],
  [
    'ticket_id',
    'channel',
    'submit_time',
    'requester_id',
    'requester_phone',
    'title',
    'content',
    'address_text',
    'related_uscc',
    'category_l1',
    'category_l2',
    'category_l3',
    'request_type',
    'handling_dept_code',
    'street_code',
    'community_code',
    'status',
    'dispatched_time',
    'first_contact_time',
    'closed_time',
    'satisfaction_response',
    'satisfaction_attitude',
    'satisfaction_result',
    'satisfaction_overall',
    'reopen_count',
    'votes',
    '_load_date'
  ],
  distribute_by='related_uscc'
) }}
