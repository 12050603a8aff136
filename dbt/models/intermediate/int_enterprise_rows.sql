-- GENERATED from catalog/ by `govlake profile generate`; do not edit by hand.
-- Every staging row the profile reads, one layout (typed slots), distributed by enterprise.
{%- set as_of = var('as_of', none) or var('load_date', none) or modules.datetime.date.today().isoformat() %}
{%- set y1 = (as_of | string)[:4] | int - 1 %}
{%- set changed = var('profile_changed_since', none) %}
SELECT * FROM (
  SELECT uscc, CAST(0 AS TINYINT) AS src, name AS string_1, legal_rep AS string_2, enterprise_type AS string_3, industry_code AS string_4, status AS string_5, street_code AS string_6, community_code AS string_7, address AS string_8, phone AS string_9, CAST(NULL AS INT) AS int_1, CAST(NULL AS INT) AS int_2, CAST(NULL AS INT) AS int_3, CAST(NULL AS INT) AS int_4, CAST(NULL AS INT) AS int_5, CAST(NULL AS INT) AS int_6, reg_capital_wan AS double_1, CAST(NULL AS DOUBLE) AS double_2, CAST(NULL AS DOUBLE) AS double_3, CAST(NULL AS DOUBLE) AS double_4, CAST(NULL AS DOUBLE) AS double_5, CAST(NULL AS DOUBLE) AS double_6, CAST(NULL AS DOUBLE) AS double_7, CAST(NULL AS DOUBLE) AS double_8, reg_date AS date_1, CAST(NULL AS DATE) AS date_2, CAST(NULL AS TIMESTAMP_NTZ) AS timestamp_1, CAST(NULL AS TIMESTAMP_NTZ) AS timestamp_2, is_listed AS boolean_1
  FROM (SELECT * FROM {{ ref('stg_enterprise_registry') }} WHERE uscc IS NOT NULL) stg
  {%- if changed %}
  -- incremental: enterprises in scope; on the staging key (uscc), so before staging's latest-row window
  WHERE uscc IN (SELECT /*+ BROADCAST(scope) */ uscc FROM {{ ref('int_enterprise_scope') }} scope)
  {%- endif %}
  UNION ALL
  SELECT uscc, CAST(1 AS TINYINT) AS src, tax_credit_grade AS string_1, CAST(NULL AS STRING) AS string_2, CAST(NULL AS STRING) AS string_3, CAST(NULL AS STRING) AS string_4, CAST(NULL AS STRING) AS string_5, CAST(NULL AS STRING) AS string_6, CAST(NULL AS STRING) AS string_7, CAST(NULL AS STRING) AS string_8, CAST(NULL AS STRING) AS string_9, year AS int_1, CAST(NULL AS INT) AS int_2, CAST(NULL AS INT) AS int_3, CAST(NULL AS INT) AS int_4, CAST(NULL AS INT) AS int_5, CAST(NULL AS INT) AS int_6, revenue_wan AS double_1, total_tax_wan AS double_2, vat_wan AS double_3, cit_wan AS double_4, profit_wan AS double_5, export_wan AS double_6, hightech_revenue_wan AS double_7, rd_deduction_wan AS double_8, CAST(NULL AS DATE) AS date_1, CAST(NULL AS DATE) AS date_2, CAST(NULL AS TIMESTAMP_NTZ) AS timestamp_1, CAST(NULL AS TIMESTAMP_NTZ) AS timestamp_2, CAST(NULL AS BOOLEAN) AS boolean_1
  FROM (SELECT * FROM {{ ref('stg_tax_annual') }} WHERE uscc IS NOT NULL) stg
  {%- if changed %}
  -- incremental: enterprises in scope; on the staging key (uscc, year), so before staging's latest-row window
  WHERE uscc IN (SELECT /*+ BROADCAST(scope) */ uscc FROM {{ ref('int_enterprise_scope') }} scope)
  {%- endif %}
  UNION ALL
  SELECT uscc, CAST(2 AS TINYINT) AS src, CAST(NULL AS STRING) AS string_1, CAST(NULL AS STRING) AS string_2, CAST(NULL AS STRING) AS string_3, CAST(NULL AS STRING) AS string_4, CAST(NULL AS STRING) AS string_5, CAST(NULL AS STRING) AS string_6, CAST(NULL AS STRING) AS string_7, CAST(NULL AS STRING) AS string_8, CAST(NULL AS STRING) AS string_9, year AS int_1, insured_headcount AS int_2, bachelor_plus_count AS int_3, rd_staff_count AS int_4, new_hires AS int_5, leavers AS int_6, avg_insured_headcount AS double_1, avg_monthly_wage AS double_2, CAST(NULL AS DOUBLE) AS double_3, CAST(NULL AS DOUBLE) AS double_4, CAST(NULL AS DOUBLE) AS double_5, CAST(NULL AS DOUBLE) AS double_6, CAST(NULL AS DOUBLE) AS double_7, CAST(NULL AS DOUBLE) AS double_8, CAST(NULL AS DATE) AS date_1, CAST(NULL AS DATE) AS date_2, CAST(NULL AS TIMESTAMP_NTZ) AS timestamp_1, CAST(NULL AS TIMESTAMP_NTZ) AS timestamp_2, CAST(NULL AS BOOLEAN) AS boolean_1
  FROM (SELECT * FROM {{ ref('stg_social_insurance') }} WHERE uscc IS NOT NULL) stg
  {%- if changed %}
  -- incremental: enterprises in scope; on the staging key (uscc, year), so before staging's latest-row window
  WHERE uscc IN (SELECT /*+ BROADCAST(scope) */ uscc FROM {{ ref('int_enterprise_scope') }} scope)
  {%- endif %}
  UNION ALL
  SELECT uscc, CAST(3 AS TINYINT) AS src, rd_center_level AS string_1, CAST(NULL AS STRING) AS string_2, CAST(NULL AS STRING) AS string_3, CAST(NULL AS STRING) AS string_4, CAST(NULL AS STRING) AS string_5, CAST(NULL AS STRING) AS string_6, CAST(NULL AS STRING) AS string_7, CAST(NULL AS STRING) AS string_8, CAST(NULL AS STRING) AS string_9, year AS int_1, new_products AS int_2, CAST(NULL AS INT) AS int_3, CAST(NULL AS INT) AS int_4, CAST(NULL AS INT) AS int_5, CAST(NULL AS INT) AS int_6, rd_expense_wan AS double_1, rd_expense_domestic_wan AS double_2, tech_contract_wan AS double_3, CAST(NULL AS DOUBLE) AS double_4, CAST(NULL AS DOUBLE) AS double_5, CAST(NULL AS DOUBLE) AS double_6, CAST(NULL AS DOUBLE) AS double_7, CAST(NULL AS DOUBLE) AS double_8, CAST(NULL AS DATE) AS date_1, CAST(NULL AS DATE) AS date_2, CAST(NULL AS TIMESTAMP_NTZ) AS timestamp_1, CAST(NULL AS TIMESTAMP_NTZ) AS timestamp_2, CAST(NULL AS BOOLEAN) AS boolean_1
  FROM (SELECT * FROM {{ ref('stg_rd_activity') }} WHERE uscc IS NOT NULL) stg
  {%- if changed %}
  -- incremental: enterprises in scope; on the staging key (uscc, year), so before staging's latest-row window
  WHERE uscc IN (SELECT /*+ BROADCAST(scope) */ uscc FROM {{ ref('int_enterprise_scope') }} scope)
  {%- endif %}
  UNION ALL
  SELECT uscc, CAST(4 AS TINYINT) AS src, ip_type AS string_1, status AS string_2, CAST(NULL AS STRING) AS string_3, CAST(NULL AS STRING) AS string_4, CAST(NULL AS STRING) AS string_5, CAST(NULL AS STRING) AS string_6, CAST(NULL AS STRING) AS string_7, CAST(NULL AS STRING) AS string_8, CAST(NULL AS STRING) AS string_9, CAST(NULL AS INT) AS int_1, CAST(NULL AS INT) AS int_2, CAST(NULL AS INT) AS int_3, CAST(NULL AS INT) AS int_4, CAST(NULL AS INT) AS int_5, CAST(NULL AS INT) AS int_6, CAST(NULL AS DOUBLE) AS double_1, CAST(NULL AS DOUBLE) AS double_2, CAST(NULL AS DOUBLE) AS double_3, CAST(NULL AS DOUBLE) AS double_4, CAST(NULL AS DOUBLE) AS double_5, CAST(NULL AS DOUBLE) AS double_6, CAST(NULL AS DOUBLE) AS double_7, CAST(NULL AS DOUBLE) AS double_8, apply_date AS date_1, grant_date AS date_2, CAST(NULL AS TIMESTAMP_NTZ) AS timestamp_1, CAST(NULL AS TIMESTAMP_NTZ) AS timestamp_2, is_pct AS boolean_1
  FROM (SELECT * FROM {{ ref('stg_ip_records') }} WHERE uscc IS NOT NULL) stg
  {%- if changed %}
  -- incremental: enterprises in scope; the ip_id filter (staging key) runs before staging's latest-row window
  WHERE uscc IN (SELECT /*+ BROADCAST(scope) */ uscc FROM {{ ref('int_enterprise_scope') }} scope)
    AND ip_id IN (SELECT /*+ BROADCAST(b) */ ip_id FROM {{ source('bronze', 'ip_records') }} b
      WHERE uscc IN (SELECT /*+ BROADCAST(scope) */ uscc FROM {{ ref('int_enterprise_scope') }} scope))
  {%- endif %}
  UNION ALL
  SELECT uscc, CAST(5 AS TINYINT) AS src, cert_type AS string_1, status AS string_2, CAST(NULL AS STRING) AS string_3, CAST(NULL AS STRING) AS string_4, CAST(NULL AS STRING) AS string_5, CAST(NULL AS STRING) AS string_6, CAST(NULL AS STRING) AS string_7, CAST(NULL AS STRING) AS string_8, CAST(NULL AS STRING) AS string_9, CAST(NULL AS INT) AS int_1, CAST(NULL AS INT) AS int_2, CAST(NULL AS INT) AS int_3, CAST(NULL AS INT) AS int_4, CAST(NULL AS INT) AS int_5, CAST(NULL AS INT) AS int_6, CAST(NULL AS DOUBLE) AS double_1, CAST(NULL AS DOUBLE) AS double_2, CAST(NULL AS DOUBLE) AS double_3, CAST(NULL AS DOUBLE) AS double_4, CAST(NULL AS DOUBLE) AS double_5, CAST(NULL AS DOUBLE) AS double_6, CAST(NULL AS DOUBLE) AS double_7, CAST(NULL AS DOUBLE) AS double_8, issue_date AS date_1, expiry_date AS date_2, CAST(NULL AS TIMESTAMP_NTZ) AS timestamp_1, CAST(NULL AS TIMESTAMP_NTZ) AS timestamp_2, CAST(NULL AS BOOLEAN) AS boolean_1
  FROM (SELECT * FROM {{ ref('stg_certificates') }} WHERE uscc IS NOT NULL) stg
  {%- if changed %}
  -- incremental: enterprises in scope; the cert_id filter (staging key) runs before staging's latest-row window
  WHERE uscc IN (SELECT /*+ BROADCAST(scope) */ uscc FROM {{ ref('int_enterprise_scope') }} scope)
    AND cert_id IN (SELECT /*+ BROADCAST(b) */ cert_id FROM {{ source('bronze', 'certificates') }} b
      WHERE uscc IN (SELECT /*+ BROADCAST(scope) */ uscc FROM {{ ref('int_enterprise_scope') }} scope))
  {%- endif %}
  UNION ALL
  SELECT uscc, CAST(6 AS TINYINT) AS src, record_type AS string_1, severity AS string_2, CAST(NULL AS STRING) AS string_3, CAST(NULL AS STRING) AS string_4, CAST(NULL AS STRING) AS string_5, CAST(NULL AS STRING) AS string_6, CAST(NULL AS STRING) AS string_7, CAST(NULL AS STRING) AS string_8, CAST(NULL AS STRING) AS string_9, CAST(NULL AS INT) AS int_1, CAST(NULL AS INT) AS int_2, CAST(NULL AS INT) AS int_3, CAST(NULL AS INT) AS int_4, CAST(NULL AS INT) AS int_5, CAST(NULL AS INT) AS int_6, amount_wan AS double_1, CAST(NULL AS DOUBLE) AS double_2, CAST(NULL AS DOUBLE) AS double_3, CAST(NULL AS DOUBLE) AS double_4, CAST(NULL AS DOUBLE) AS double_5, CAST(NULL AS DOUBLE) AS double_6, CAST(NULL AS DOUBLE) AS double_7, CAST(NULL AS DOUBLE) AS double_8, decision_date AS date_1, repaired_date AS date_2, CAST(NULL AS TIMESTAMP_NTZ) AS timestamp_1, CAST(NULL AS TIMESTAMP_NTZ) AS timestamp_2, CAST(NULL AS BOOLEAN) AS boolean_1
  FROM (SELECT * FROM {{ ref('stg_credit_records') }} WHERE uscc IS NOT NULL) stg
  {%- if changed %}
  -- incremental: enterprises in scope; the record_id filter (staging key) runs before staging's latest-row window
  WHERE uscc IN (SELECT /*+ BROADCAST(scope) */ uscc FROM {{ ref('int_enterprise_scope') }} scope)
    AND record_id IN (SELECT /*+ BROADCAST(b) */ record_id FROM {{ source('bronze', 'credit_records') }} b
      WHERE uscc IN (SELECT /*+ BROADCAST(scope) */ uscc FROM {{ ref('int_enterprise_scope') }} scope))
  {%- endif %}
  UNION ALL
  SELECT related_uscc AS uscc, CAST(7 AS TINYINT) AS src, channel AS string_1, category_l1 AS string_2, request_type AS string_3, status AS string_4, CAST(NULL AS STRING) AS string_5, CAST(NULL AS STRING) AS string_6, CAST(NULL AS STRING) AS string_7, CAST(NULL AS STRING) AS string_8, CAST(NULL AS STRING) AS string_9, satisfaction_response AS int_1, satisfaction_attitude AS int_2, satisfaction_result AS int_3, satisfaction_overall AS int_4, reopen_count AS int_5, votes AS int_6, CAST(NULL AS DOUBLE) AS double_1, CAST(NULL AS DOUBLE) AS double_2, CAST(NULL AS DOUBLE) AS double_3, CAST(NULL AS DOUBLE) AS double_4, CAST(NULL AS DOUBLE) AS double_5, CAST(NULL AS DOUBLE) AS double_6, CAST(NULL AS DOUBLE) AS double_7, CAST(NULL AS DOUBLE) AS double_8, CAST(NULL AS DATE) AS date_1, CAST(NULL AS DATE) AS date_2, CAST(submit_time AS TIMESTAMP_NTZ) AS timestamp_1, CAST(closed_time AS TIMESTAMP_NTZ) AS timestamp_2, CAST(NULL AS BOOLEAN) AS boolean_1
  FROM (SELECT * FROM {{ ref('stg_petitions') }} WHERE related_uscc IS NOT NULL) stg
  {%- if changed %}
  -- incremental: enterprises in scope; the ticket_id filter (staging key) runs before staging's latest-row window
  WHERE related_uscc IN (SELECT /*+ BROADCAST(scope) */ uscc FROM {{ ref('int_enterprise_scope') }} scope)
    AND ticket_id IN (SELECT /*+ BROADCAST(b) */ ticket_id FROM {{ source('bronze', 'petitions') }} b
      WHERE related_uscc IN (SELECT /*+ BROADCAST(scope) */ uscc FROM {{ ref('int_enterprise_scope') }} scope))
  {%- endif %}
  UNION ALL
  SELECT uscc, CAST(8 AS TINYINT) AS src, policy_code AS string_1, dept_code AS string_2, CAST(NULL AS STRING) AS string_3, CAST(NULL AS STRING) AS string_4, CAST(NULL AS STRING) AS string_5, CAST(NULL AS STRING) AS string_6, CAST(NULL AS STRING) AS string_7, CAST(NULL AS STRING) AS string_8, CAST(NULL AS STRING) AS string_9, CAST(NULL AS INT) AS int_1, CAST(NULL AS INT) AS int_2, CAST(NULL AS INT) AS int_3, CAST(NULL AS INT) AS int_4, CAST(NULL AS INT) AS int_5, CAST(NULL AS INT) AS int_6, amount_wan AS double_1, CAST(NULL AS DOUBLE) AS double_2, CAST(NULL AS DOUBLE) AS double_3, CAST(NULL AS DOUBLE) AS double_4, CAST(NULL AS DOUBLE) AS double_5, CAST(NULL AS DOUBLE) AS double_6, CAST(NULL AS DOUBLE) AS double_7, CAST(NULL AS DOUBLE) AS double_8, award_date AS date_1, CAST(NULL AS DATE) AS date_2, CAST(NULL AS TIMESTAMP_NTZ) AS timestamp_1, CAST(NULL AS TIMESTAMP_NTZ) AS timestamp_2, CAST(NULL AS BOOLEAN) AS boolean_1
  FROM (SELECT * FROM {{ ref('stg_subsidies') }} WHERE uscc IS NOT NULL) stg
  {%- if changed %}
  -- incremental: enterprises in scope; the award_id filter (staging key) runs before staging's latest-row window
  WHERE uscc IN (SELECT /*+ BROADCAST(scope) */ uscc FROM {{ ref('int_enterprise_scope') }} scope)
    AND award_id IN (SELECT /*+ BROADCAST(b) */ award_id FROM {{ source('bronze', 'subsidies') }} b
      WHERE uscc IN (SELECT /*+ BROADCAST(scope) */ uscc FROM {{ ref('int_enterprise_scope') }} scope))
  {%- endif %}
  UNION ALL
  SELECT uscc, CAST(9 AS TINYINT) AS src, park_name AS string_1, space_type AS string_2, CAST(NULL AS STRING) AS string_3, CAST(NULL AS STRING) AS string_4, CAST(NULL AS STRING) AS string_5, CAST(NULL AS STRING) AS string_6, CAST(NULL AS STRING) AS string_7, CAST(NULL AS STRING) AS string_8, CAST(NULL AS STRING) AS string_9, CAST(NULL AS INT) AS int_1, CAST(NULL AS INT) AS int_2, CAST(NULL AS INT) AS int_3, CAST(NULL AS INT) AS int_4, CAST(NULL AS INT) AS int_5, CAST(NULL AS INT) AS int_6, area_sqm AS double_1, monthly_rent_yuan_sqm AS double_2, CAST(NULL AS DOUBLE) AS double_3, CAST(NULL AS DOUBLE) AS double_4, CAST(NULL AS DOUBLE) AS double_5, CAST(NULL AS DOUBLE) AS double_6, CAST(NULL AS DOUBLE) AS double_7, CAST(NULL AS DOUBLE) AS double_8, start_date AS date_1, end_date AS date_2, CAST(NULL AS TIMESTAMP_NTZ) AS timestamp_1, CAST(NULL AS TIMESTAMP_NTZ) AS timestamp_2, is_owned AS boolean_1
  FROM (SELECT * FROM {{ ref('stg_industrial_space') }} WHERE uscc IS NOT NULL) stg
  {%- if changed %}
  -- incremental: enterprises in scope; the lease_id filter (staging key) runs before staging's latest-row window
  WHERE uscc IN (SELECT /*+ BROADCAST(scope) */ uscc FROM {{ ref('int_enterprise_scope') }} scope)
    AND lease_id IN (SELECT /*+ BROADCAST(b) */ lease_id FROM {{ source('bronze', 'industrial_space') }} b
      WHERE uscc IN (SELECT /*+ BROADCAST(scope) */ uscc FROM {{ ref('int_enterprise_scope') }} scope))
  {%- endif %}
  UNION ALL
  SELECT uscc, CAST(10 AS TINYINT) AS src, round AS string_1, investor_type AS string_2, CAST(NULL AS STRING) AS string_3, CAST(NULL AS STRING) AS string_4, CAST(NULL AS STRING) AS string_5, CAST(NULL AS STRING) AS string_6, CAST(NULL AS STRING) AS string_7, CAST(NULL AS STRING) AS string_8, CAST(NULL AS STRING) AS string_9, CAST(NULL AS INT) AS int_1, CAST(NULL AS INT) AS int_2, CAST(NULL AS INT) AS int_3, CAST(NULL AS INT) AS int_4, CAST(NULL AS INT) AS int_5, CAST(NULL AS INT) AS int_6, amount_wan AS double_1, CAST(NULL AS DOUBLE) AS double_2, CAST(NULL AS DOUBLE) AS double_3, CAST(NULL AS DOUBLE) AS double_4, CAST(NULL AS DOUBLE) AS double_5, CAST(NULL AS DOUBLE) AS double_6, CAST(NULL AS DOUBLE) AS double_7, CAST(NULL AS DOUBLE) AS double_8, event_date AS date_1, CAST(NULL AS DATE) AS date_2, CAST(NULL AS TIMESTAMP_NTZ) AS timestamp_1, CAST(NULL AS TIMESTAMP_NTZ) AS timestamp_2, CAST(NULL AS BOOLEAN) AS boolean_1
  FROM (SELECT * FROM {{ ref('stg_financing') }} WHERE uscc IS NOT NULL) stg
  {%- if changed %}
  -- incremental: enterprises in scope; the event_id filter (staging key) runs before staging's latest-row window
  WHERE uscc IN (SELECT /*+ BROADCAST(scope) */ uscc FROM {{ ref('int_enterprise_scope') }} scope)
    AND event_id IN (SELECT /*+ BROADCAST(b) */ event_id FROM {{ source('bronze', 'financing') }} b
      WHERE uscc IN (SELECT /*+ BROADCAST(scope) */ uscc FROM {{ ref('int_enterprise_scope') }} scope))
  {%- endif %}
  UNION ALL
  SELECT uscc, CAST(11 AS TINYINT) AS src, stat_category AS string_1, CAST(NULL AS STRING) AS string_2, CAST(NULL AS STRING) AS string_3, CAST(NULL AS STRING) AS string_4, CAST(NULL AS STRING) AS string_5, CAST(NULL AS STRING) AS string_6, CAST(NULL AS STRING) AS string_7, CAST(NULL AS STRING) AS string_8, CAST(NULL AS STRING) AS string_9, year AS int_1, CAST(NULL AS INT) AS int_2, CAST(NULL AS INT) AS int_3, CAST(NULL AS INT) AS int_4, CAST(NULL AS INT) AS int_5, CAST(NULL AS INT) AS int_6, output_value_wan AS double_1, added_value_wan AS double_2, energy_tce AS double_3, CAST(NULL AS DOUBLE) AS double_4, CAST(NULL AS DOUBLE) AS double_5, CAST(NULL AS DOUBLE) AS double_6, CAST(NULL AS DOUBLE) AS double_7, CAST(NULL AS DOUBLE) AS double_8, CAST(NULL AS DATE) AS date_1, CAST(NULL AS DATE) AS date_2, CAST(NULL AS TIMESTAMP_NTZ) AS timestamp_1, CAST(NULL AS TIMESTAMP_NTZ) AS timestamp_2, stat_in_district AS boolean_1
  FROM (SELECT * FROM {{ ref('stg_statistics') }} WHERE uscc IS NOT NULL) stg
  {%- if changed %}
  -- incremental: enterprises in scope; on the staging key (uscc, year), so before staging's latest-row window
  WHERE uscc IN (SELECT /*+ BROADCAST(scope) */ uscc FROM {{ ref('int_enterprise_scope') }} scope)
  {%- endif %}
)
DISTRIBUTE BY uscc
