-- GENERATED from catalog/ by `govlake profile generate`; do not edit by hand.
-- Per-enterprise aggregates of statistics for the profile (51 base fields).
{%- set as_of = var('as_of', none) or var('load_date', none) or modules.datetime.date.today().isoformat() %}
{%- set y1 = (as_of | string)[:4] | int - 1 %}
{%- set changed = var('profile_changed_since', none) %}
SELECT
  uscc AS uscc,
  sum(CASE WHEN year = {{ y1 }} THEN output_value_wan END) AS output_value_y1_wan,
  sum(CASE WHEN year = {{ y1 - 1 }} THEN output_value_wan END) AS output_value_y2_wan,
  sum(CASE WHEN year = {{ y1 - 2 }} THEN output_value_wan END) AS output_value_y3_wan,
  sum(CASE WHEN year = {{ y1 - 3 }} THEN output_value_wan END) AS output_value_y4_wan,
  sum(CASE WHEN year = {{ y1 - 4 }} THEN output_value_wan END) AS output_value_y5_wan,
  sum(CASE WHEN year BETWEEN {{ y1 - 1 }} AND {{ y1 }} THEN output_value_wan END) AS output_value_2y_wan,
  sum(CASE WHEN year BETWEEN {{ y1 - 2 }} AND {{ y1 }} THEN output_value_wan END) AS output_value_3y_wan,
  sum(CASE WHEN year BETWEEN {{ y1 - 4 }} AND {{ y1 }} THEN output_value_wan END) AS output_value_5y_wan,
  avg(CASE WHEN year BETWEEN {{ y1 - 2 }} AND {{ y1 }} THEN output_value_wan END) AS output_value_avg_3y_wan,
  avg(CASE WHEN year BETWEEN {{ y1 - 4 }} AND {{ y1 }} THEN output_value_wan END) AS output_value_avg_5y_wan,
  max(CASE WHEN year BETWEEN {{ y1 - 4 }} AND {{ y1 }} THEN output_value_wan END) AS output_value_max_5y_wan,
  min(CASE WHEN year BETWEEN {{ y1 - 4 }} AND {{ y1 }} THEN output_value_wan END) AS output_value_min_5y_wan,
  count(CASE WHEN year BETWEEN {{ y1 - 4 }} AND {{ y1 }} AND output_value_wan IS NOT NULL THEN 1 END) AS output_value_years_5y,
  sum(CASE WHEN year = {{ y1 }} THEN added_value_wan END) AS added_value_y1_wan,
  sum(CASE WHEN year = {{ y1 - 1 }} THEN added_value_wan END) AS added_value_y2_wan,
  sum(CASE WHEN year = {{ y1 - 2 }} THEN added_value_wan END) AS added_value_y3_wan,
  sum(CASE WHEN year = {{ y1 - 3 }} THEN added_value_wan END) AS added_value_y4_wan,
  sum(CASE WHEN year = {{ y1 - 4 }} THEN added_value_wan END) AS added_value_y5_wan,
  sum(CASE WHEN year BETWEEN {{ y1 - 1 }} AND {{ y1 }} THEN added_value_wan END) AS added_value_2y_wan,
  sum(CASE WHEN year BETWEEN {{ y1 - 2 }} AND {{ y1 }} THEN added_value_wan END) AS added_value_3y_wan,
  sum(CASE WHEN year BETWEEN {{ y1 - 4 }} AND {{ y1 }} THEN added_value_wan END) AS added_value_5y_wan,
  avg(CASE WHEN year BETWEEN {{ y1 - 2 }} AND {{ y1 }} THEN added_value_wan END) AS added_value_avg_3y_wan,
  avg(CASE WHEN year BETWEEN {{ y1 - 4 }} AND {{ y1 }} THEN added_value_wan END) AS added_value_avg_5y_wan,
  max(CASE WHEN year BETWEEN {{ y1 - 4 }} AND {{ y1 }} THEN added_value_wan END) AS added_value_max_5y_wan,
  min(CASE WHEN year BETWEEN {{ y1 - 4 }} AND {{ y1 }} THEN added_value_wan END) AS added_value_min_5y_wan,
  count(CASE WHEN year BETWEEN {{ y1 - 4 }} AND {{ y1 }} AND added_value_wan IS NOT NULL THEN 1 END) AS added_value_years_5y,
  sum(CASE WHEN year = {{ y1 }} THEN energy_tce END) AS energy_y1_tce,
  sum(CASE WHEN year = {{ y1 - 1 }} THEN energy_tce END) AS energy_y2_tce,
  sum(CASE WHEN year = {{ y1 - 2 }} THEN energy_tce END) AS energy_y3_tce,
  sum(CASE WHEN year = {{ y1 - 3 }} THEN energy_tce END) AS energy_y4_tce,
  sum(CASE WHEN year = {{ y1 - 4 }} THEN energy_tce END) AS energy_y5_tce,
  sum(CASE WHEN year BETWEEN {{ y1 - 1 }} AND {{ y1 }} THEN energy_tce END) AS energy_2y_tce,
  sum(CASE WHEN year BETWEEN {{ y1 - 2 }} AND {{ y1 }} THEN energy_tce END) AS energy_3y_tce,
  sum(CASE WHEN year BETWEEN {{ y1 - 4 }} AND {{ y1 }} THEN energy_tce END) AS energy_5y_tce,
  avg(CASE WHEN year BETWEEN {{ y1 - 2 }} AND {{ y1 }} THEN energy_tce END) AS energy_avg_3y_tce,
  avg(CASE WHEN year BETWEEN {{ y1 - 4 }} AND {{ y1 }} THEN energy_tce END) AS energy_avg_5y_tce,
  max(CASE WHEN year BETWEEN {{ y1 - 4 }} AND {{ y1 }} THEN energy_tce END) AS energy_max_5y_tce,
  min(CASE WHEN year BETWEEN {{ y1 - 4 }} AND {{ y1 }} THEN energy_tce END) AS energy_min_5y_tce,
  count(CASE WHEN year BETWEEN {{ y1 - 4 }} AND {{ y1 }} AND energy_tce IS NOT NULL THEN 1 END) AS energy_years_5y,
  count(CASE WHEN year BETWEEN {{ y1 - 4 }} AND {{ y1 }} AND stat_category <> '非四上' THEN 1 END) AS above_scale_years_5y,
  min(year) AS stat_first_year,
  max(CASE WHEN year = {{ y1 }} THEN stat_category END) AS stat_category_y1,
  max(CASE WHEN year = {{ y1 - 1 }} THEN stat_category END) AS stat_category_y2,
  max(CASE WHEN year = {{ y1 - 2 }} THEN stat_category END) AS stat_category_y3,
  max(CASE WHEN year = {{ y1 - 3 }} THEN stat_category END) AS stat_category_y4,
  max(CASE WHEN year = {{ y1 - 4 }} THEN stat_category END) AS stat_category_y5,
  bool_or(CASE WHEN year = {{ y1 }} THEN stat_in_district END) AS stat_in_district_y1,
  bool_or(CASE WHEN year = {{ y1 - 1 }} THEN stat_in_district END) AS stat_in_district_y2,
  bool_or(CASE WHEN year = {{ y1 - 2 }} THEN stat_in_district END) AS stat_in_district_y3,
  bool_or(CASE WHEN year = {{ y1 - 3 }} THEN stat_in_district END) AS stat_in_district_y4,
  bool_or(CASE WHEN year = {{ y1 - 4 }} THEN stat_in_district END) AS stat_in_district_y5
FROM {{ ref('stg_statistics') }}
{%- if changed %}
-- incremental: enterprises in scope; on the staging key (uscc, year), so before staging's latest-row window
WHERE uscc IN (SELECT /*+ BROADCAST(scope) */ uscc FROM {{ ref('int_enterprise_scope') }} scope)
{%- endif %}
GROUP BY uscc
