-- GENERATED from catalog/ by `govlake profile generate`; do not edit by hand.
-- Per-enterprise aggregates of rd_activity for the profile (56 base fields).
{%- set as_of = var('as_of', none) or var('load_date', none) or modules.datetime.date.today().isoformat() %}
{%- set y1 = (as_of | string)[:4] | int - 1 %}
{%- set changed = var('profile_changed_since', none) %}
SELECT
  uscc AS uscc,
  sum(CASE WHEN year = {{ y1 }} THEN rd_expense_wan END) AS rd_expense_y1_wan,
  sum(CASE WHEN year = {{ y1 - 1 }} THEN rd_expense_wan END) AS rd_expense_y2_wan,
  sum(CASE WHEN year = {{ y1 - 2 }} THEN rd_expense_wan END) AS rd_expense_y3_wan,
  sum(CASE WHEN year = {{ y1 - 3 }} THEN rd_expense_wan END) AS rd_expense_y4_wan,
  sum(CASE WHEN year = {{ y1 - 4 }} THEN rd_expense_wan END) AS rd_expense_y5_wan,
  sum(CASE WHEN year BETWEEN {{ y1 - 1 }} AND {{ y1 }} THEN rd_expense_wan END) AS rd_expense_2y_wan,
  sum(CASE WHEN year BETWEEN {{ y1 - 2 }} AND {{ y1 }} THEN rd_expense_wan END) AS rd_expense_3y_wan,
  sum(CASE WHEN year BETWEEN {{ y1 - 4 }} AND {{ y1 }} THEN rd_expense_wan END) AS rd_expense_5y_wan,
  avg(CASE WHEN year BETWEEN {{ y1 - 2 }} AND {{ y1 }} THEN rd_expense_wan END) AS rd_expense_avg_3y_wan,
  avg(CASE WHEN year BETWEEN {{ y1 - 4 }} AND {{ y1 }} THEN rd_expense_wan END) AS rd_expense_avg_5y_wan,
  max(CASE WHEN year BETWEEN {{ y1 - 4 }} AND {{ y1 }} THEN rd_expense_wan END) AS rd_expense_max_5y_wan,
  min(CASE WHEN year BETWEEN {{ y1 - 4 }} AND {{ y1 }} THEN rd_expense_wan END) AS rd_expense_min_5y_wan,
  count(CASE WHEN year BETWEEN {{ y1 - 4 }} AND {{ y1 }} AND rd_expense_wan IS NOT NULL THEN 1 END) AS rd_expense_years_5y,
  sum(CASE WHEN year = {{ y1 }} THEN rd_expense_domestic_wan END) AS rd_expense_domestic_y1_wan,
  sum(CASE WHEN year = {{ y1 - 1 }} THEN rd_expense_domestic_wan END) AS rd_expense_domestic_y2_wan,
  sum(CASE WHEN year = {{ y1 - 2 }} THEN rd_expense_domestic_wan END) AS rd_expense_domestic_y3_wan,
  sum(CASE WHEN year = {{ y1 - 3 }} THEN rd_expense_domestic_wan END) AS rd_expense_domestic_y4_wan,
  sum(CASE WHEN year = {{ y1 - 4 }} THEN rd_expense_domestic_wan END) AS rd_expense_domestic_y5_wan,
  sum(CASE WHEN year BETWEEN {{ y1 - 1 }} AND {{ y1 }} THEN rd_expense_domestic_wan END) AS rd_expense_domestic_2y_wan,
  sum(CASE WHEN year BETWEEN {{ y1 - 2 }} AND {{ y1 }} THEN rd_expense_domestic_wan END) AS rd_expense_domestic_3y_wan,
  sum(CASE WHEN year BETWEEN {{ y1 - 4 }} AND {{ y1 }} THEN rd_expense_domestic_wan END) AS rd_expense_domestic_5y_wan,
  avg(CASE WHEN year BETWEEN {{ y1 - 2 }} AND {{ y1 }} THEN rd_expense_domestic_wan END) AS rd_expense_domestic_avg_3y_wan,
  avg(CASE WHEN year BETWEEN {{ y1 - 4 }} AND {{ y1 }} THEN rd_expense_domestic_wan END) AS rd_expense_domestic_avg_5y_wan,
  max(CASE WHEN year BETWEEN {{ y1 - 4 }} AND {{ y1 }} THEN rd_expense_domestic_wan END) AS rd_expense_domestic_max_5y_wan,
  min(CASE WHEN year BETWEEN {{ y1 - 4 }} AND {{ y1 }} THEN rd_expense_domestic_wan END) AS rd_expense_domestic_min_5y_wan,
  count(CASE WHEN year BETWEEN {{ y1 - 4 }} AND {{ y1 }} AND rd_expense_domestic_wan IS NOT NULL THEN 1 END) AS rd_expense_domestic_years_5y,
  sum(CASE WHEN year = {{ y1 }} THEN tech_contract_wan END) AS tech_contract_y1_wan,
  sum(CASE WHEN year = {{ y1 - 1 }} THEN tech_contract_wan END) AS tech_contract_y2_wan,
  sum(CASE WHEN year = {{ y1 - 2 }} THEN tech_contract_wan END) AS tech_contract_y3_wan,
  sum(CASE WHEN year = {{ y1 - 3 }} THEN tech_contract_wan END) AS tech_contract_y4_wan,
  sum(CASE WHEN year = {{ y1 - 4 }} THEN tech_contract_wan END) AS tech_contract_y5_wan,
  sum(CASE WHEN year BETWEEN {{ y1 - 1 }} AND {{ y1 }} THEN tech_contract_wan END) AS tech_contract_2y_wan,
  sum(CASE WHEN year BETWEEN {{ y1 - 2 }} AND {{ y1 }} THEN tech_contract_wan END) AS tech_contract_3y_wan,
  sum(CASE WHEN year BETWEEN {{ y1 - 4 }} AND {{ y1 }} THEN tech_contract_wan END) AS tech_contract_5y_wan,
  avg(CASE WHEN year BETWEEN {{ y1 - 2 }} AND {{ y1 }} THEN tech_contract_wan END) AS tech_contract_avg_3y_wan,
  avg(CASE WHEN year BETWEEN {{ y1 - 4 }} AND {{ y1 }} THEN tech_contract_wan END) AS tech_contract_avg_5y_wan,
  max(CASE WHEN year BETWEEN {{ y1 - 4 }} AND {{ y1 }} THEN tech_contract_wan END) AS tech_contract_max_5y_wan,
  min(CASE WHEN year BETWEEN {{ y1 - 4 }} AND {{ y1 }} THEN tech_contract_wan END) AS tech_contract_min_5y_wan,
  count(CASE WHEN year BETWEEN {{ y1 - 4 }} AND {{ y1 }} AND tech_contract_wan IS NOT NULL THEN 1 END) AS tech_contract_years_5y,
  sum(CASE WHEN year = {{ y1 }} THEN new_products END) AS new_products_y1,
  sum(CASE WHEN year = {{ y1 - 1 }} THEN new_products END) AS new_products_y2,
  sum(CASE WHEN year = {{ y1 - 2 }} THEN new_products END) AS new_products_y3,
  sum(CASE WHEN year = {{ y1 - 3 }} THEN new_products END) AS new_products_y4,
  sum(CASE WHEN year = {{ y1 - 4 }} THEN new_products END) AS new_products_y5,
  sum(CASE WHEN year BETWEEN {{ y1 - 1 }} AND {{ y1 }} THEN new_products END) AS new_products_2y,
  sum(CASE WHEN year BETWEEN {{ y1 - 2 }} AND {{ y1 }} THEN new_products END) AS new_products_3y,
  sum(CASE WHEN year BETWEEN {{ y1 - 4 }} AND {{ y1 }} THEN new_products END) AS new_products_5y,
  avg(CASE WHEN year BETWEEN {{ y1 - 2 }} AND {{ y1 }} THEN new_products END) AS new_products_avg_3y,
  avg(CASE WHEN year BETWEEN {{ y1 - 4 }} AND {{ y1 }} THEN new_products END) AS new_products_avg_5y,
  max(CASE WHEN year BETWEEN {{ y1 - 4 }} AND {{ y1 }} THEN new_products END) AS new_products_max_5y,
  min(CASE WHEN year BETWEEN {{ y1 - 4 }} AND {{ y1 }} THEN new_products END) AS new_products_min_5y,
  count(CASE WHEN year BETWEEN {{ y1 - 4 }} AND {{ y1 }} AND new_products IS NOT NULL THEN 1 END) AS new_products_years_5y,
  max(CASE WHEN year = {{ y1 }} THEN CASE rd_center_level WHEN '国家级' THEN 4 WHEN '省级' THEN 3 WHEN '市级' THEN 2 WHEN '区级' THEN 1 ELSE 0 END END) AS rd_center_rank_y1,
  max(CASE WHEN year = {{ y1 }} THEN rd_center_level END) AS rd_center_level_y1,
  max(CASE WHEN year = {{ y1 - 1 }} THEN rd_center_level END) AS rd_center_level_y2,
  max(CASE WHEN year = {{ y1 - 2 }} THEN rd_center_level END) AS rd_center_level_y3
FROM {{ ref('stg_rd_activity') }}
{%- if changed %}
-- incremental: enterprises in scope; on the staging key (uscc, year), so before staging's latest-row window
WHERE uscc IN (SELECT /*+ BROADCAST(scope) */ uscc FROM {{ ref('int_enterprise_scope') }} scope)
{%- endif %}
GROUP BY uscc
