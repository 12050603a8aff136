-- GENERATED from catalog/ by `govlake profile generate`; do not edit by hand.
-- 基本登记 (basic): 68 profile fields, one row per enterprise (uscc).
-- Derived fields are computed in layers over int_enterprise_base; fields of other
-- categories they read are computed here too but not output.
{%- set as_of = var('as_of', none) or var('load_date', none) or modules.datetime.date.today().isoformat() %}
{%- set y1 = (as_of | string)[:4] | int - 1 %}
{%- set changed = var('profile_changed_since', none) %}
WITH level_0 AS (
  SELECT * FROM {{ ref('int_enterprise_base') }}
),
level_1 AS (
  SELECT *,
    CAST(CASE WHEN coalesce(insured_headcount_y1, 0) >= 1000 AND coalesce(revenue_y1_wan, 0) >= 40000 THEN '大型' WHEN coalesce(insured_headcount_y1, 0) >= 300 AND coalesce(revenue_y1_wan, 0) >= 2000 THEN '中型' WHEN coalesce(insured_headcount_y1, 0) >= 20 AND coalesce(revenue_y1_wan, 0) >= 300 THEN '小型' ELSE '微型' END AS STRING) AS enterprise_size
  FROM level_0
),
level_2 AS (
  SELECT *,
    CAST(enterprise_size <> '大型' AS BOOLEAN) AS is_sme,
    CAST(enterprise_size = '大型' AS BOOLEAN) AS is_size_large,
    CAST(enterprise_size = '中型' AS BOOLEAN) AS is_size_medium,
    CAST(enterprise_size = '小型' AS BOOLEAN) AS is_size_small,
    CAST(enterprise_size = '微型' AS BOOLEAN) AS is_size_micro
  FROM level_1
)
SELECT
  uscc,
  ent_name,
  legal_rep,
  enterprise_type,
  industry_code,
  industry_section,
  industry_division,
  street_code,
  community_code,
  reg_address,
  contact_phone,
  reg_status,
  is_registered_in_district,
  reg_date,
  reg_year,
  years_since_registration,
  reg_capital_wan,
  is_listed,
  enterprise_size,
  is_sme,
  is_new_1y,
  is_new_3y,
  is_new_5y,
  is_industry_a,
  is_industry_b,
  is_industry_c,
  is_industry_d,
  is_industry_e,
  is_industry_f,
  is_industry_g,
  is_industry_h,
  is_industry_i,
  is_industry_j,
  is_industry_k,
  is_industry_l,
  is_industry_m,
  is_industry_n,
  is_industry_o,
  is_industry_p,
  is_industry_q,
  is_industry_r,
  is_industry_s,
  is_industry_t,
  is_type_llc,
  is_type_joint_stock,
  is_type_sole_proprietorship,
  is_type_partnership,
  is_type_foreign_invested,
  is_status_active,
  is_status_operating,
  is_status_moved_out,
  is_status_cancelled,
  is_status_revoked,
  is_size_large,
  is_size_medium,
  is_size_small,
  is_size_micro,
  reg_capital_ge_100,
  reg_capital_ge_500,
  reg_capital_ge_1000,
  reg_capital_ge_5000,
  reg_capital_ge_10000,
  age_ge_1y,
  age_ge_2y,
  age_ge_3y,
  age_ge_5y,
  age_ge_10y,
  age_ge_20y
FROM level_2
