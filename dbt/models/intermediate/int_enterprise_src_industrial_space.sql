-- GENERATED from catalog/ by `govlake profile generate`; do not edit by hand.
-- Per-enterprise aggregates of industrial_space for the profile (33 base fields).
{%- set as_of = var('as_of', none) or var('load_date', none) or modules.datetime.date.today().isoformat() %}
{%- set y1 = (as_of | string)[:4] | int - 1 %}
SELECT
  uscc AS uscc,
  sum(CASE WHEN start_date <= DATE '{{ as_of }}' AND (end_date IS NULL OR end_date >= DATE '{{ as_of }}') THEN area_sqm END) AS space_active_area_sqm,
  count(CASE WHEN start_date <= DATE '{{ as_of }}' AND (end_date IS NULL OR end_date >= DATE '{{ as_of }}') THEN 1 END) AS space_active_lease_count,
  sum(CASE WHEN is_owned AND start_date <= DATE '{{ as_of }}' AND (end_date IS NULL OR end_date >= DATE '{{ as_of }}') THEN area_sqm END) AS space_owned_area_sqm,
  sum(CASE WHEN NOT coalesce(is_owned, false) AND start_date <= DATE '{{ as_of }}' AND (end_date IS NULL OR end_date >= DATE '{{ as_of }}') THEN area_sqm * monthly_rent_yuan_sqm END) / nullif(sum(CASE WHEN NOT coalesce(is_owned, false) AND monthly_rent_yuan_sqm IS NOT NULL AND start_date <= DATE '{{ as_of }}' AND (end_date IS NULL OR end_date >= DATE '{{ as_of }}') THEN area_sqm END), 0) AS space_avg_rent_yuan_sqm,
  sum(CASE WHEN NOT coalesce(is_owned, false) AND start_date <= DATE '{{ as_of }}' AND (end_date IS NULL OR end_date >= DATE '{{ as_of }}') THEN area_sqm * monthly_rent_yuan_sqm END) / 10000 AS space_monthly_rent_wan,
  size(collect_set(CASE WHEN start_date <= DATE '{{ as_of }}' AND (end_date IS NULL OR end_date >= DATE '{{ as_of }}') THEN park_name END)) AS space_park_count,
  sum(CASE WHEN start_date <= DATE '{{ as_of }}' - INTERVAL 12 MONTH AND (end_date IS NULL OR end_date >= DATE '{{ as_of }}' - INTERVAL 12 MONTH) THEN area_sqm END) AS space_area_1y_ago_sqm,
  count(CASE WHEN (start_date > DATE '{{ as_of }}' - INTERVAL 12 MONTH AND start_date <= DATE '{{ as_of }}') THEN 1 END) AS space_new_leases_1y,
  count(CASE WHEN (end_date > DATE '{{ as_of }}' - INTERVAL 12 MONTH AND end_date <= DATE '{{ as_of }}') THEN 1 END) AS space_ended_leases_1y,
  min(start_date) AS space_first_start_date,
  sum(CASE WHEN start_date <= DATE '{{ as_of }}' AND (end_date > DATE '{{ as_of }}' AND end_date <= DATE '{{ as_of }}' + INTERVAL 3 MONTH) THEN area_sqm END) AS space_expiring_3m_sqm,
  sum(CASE WHEN start_date <= DATE '{{ as_of }}' AND (end_date > DATE '{{ as_of }}' AND end_date <= DATE '{{ as_of }}' + INTERVAL 6 MONTH) THEN area_sqm END) AS space_expiring_6m_sqm,
  sum(CASE WHEN start_date <= DATE '{{ as_of }}' AND (end_date > DATE '{{ as_of }}' AND end_date <= DATE '{{ as_of }}' + INTERVAL 12 MONTH) THEN area_sqm END) AS space_expiring_1y_sqm,
  sum(CASE WHEN space_type = '厂房' AND start_date <= DATE '{{ as_of }}' AND (end_date IS NULL OR end_date >= DATE '{{ as_of }}') THEN area_sqm END) AS space_factory_area_sqm,
  sum(CASE WHEN space_type = '写字楼' AND start_date <= DATE '{{ as_of }}' AND (end_date IS NULL OR end_date >= DATE '{{ as_of }}') THEN area_sqm END) AS space_office_area_sqm,
  sum(CASE WHEN space_type = '研发用房' AND start_date <= DATE '{{ as_of }}' AND (end_date IS NULL OR end_date >= DATE '{{ as_of }}') THEN area_sqm END) AS space_rd_space_area_sqm,
  sum(CASE WHEN space_type = '仓储' AND start_date <= DATE '{{ as_of }}' AND (end_date IS NULL OR end_date >= DATE '{{ as_of }}') THEN area_sqm END) AS space_warehouse_area_sqm,
  count(CASE WHEN space_type = '厂房' AND start_date <= DATE '{{ as_of }}' AND (end_date IS NULL OR end_date >= DATE '{{ as_of }}') THEN 1 END) AS space_factory_count,
  count(CASE WHEN space_type = '写字楼' AND start_date <= DATE '{{ as_of }}' AND (end_date IS NULL OR end_date >= DATE '{{ as_of }}') THEN 1 END) AS space_office_count,
  count(CASE WHEN space_type = '研发用房' AND start_date <= DATE '{{ as_of }}' AND (end_date IS NULL OR end_date >= DATE '{{ as_of }}') THEN 1 END) AS space_rd_space_count,
  count(CASE WHEN space_type = '仓储' AND start_date <= DATE '{{ as_of }}' AND (end_date IS NULL OR end_date >= DATE '{{ as_of }}') THEN 1 END) AS space_warehouse_count,
  avg(CASE WHEN space_type = '厂房' AND NOT coalesce(is_owned, false) AND start_date <= DATE '{{ as_of }}' AND (end_date IS NULL OR end_date >= DATE '{{ as_of }}') THEN monthly_rent_yuan_sqm END) AS space_factory_avg_rent_yuan_sqm,
  avg(CASE WHEN space_type = '写字楼' AND NOT coalesce(is_owned, false) AND start_date <= DATE '{{ as_of }}' AND (end_date IS NULL OR end_date >= DATE '{{ as_of }}') THEN monthly_rent_yuan_sqm END) AS space_office_avg_rent_yuan_sqm,
  avg(CASE WHEN space_type = '研发用房' AND NOT coalesce(is_owned, false) AND start_date <= DATE '{{ as_of }}' AND (end_date IS NULL OR end_date >= DATE '{{ as_of }}') THEN monthly_rent_yuan_sqm END) AS space_rd_space_avg_rent_yuan_sqm,
  avg(CASE WHEN space_type = '仓储' AND NOT coalesce(is_owned, false) AND start_date <= DATE '{{ as_of }}' AND (end_date IS NULL OR end_date >= DATE '{{ as_of }}') THEN monthly_rent_yuan_sqm END) AS space_warehouse_avg_rent_yuan_sqm,
  sum(CASE WHEN space_type = '厂房' AND is_owned AND start_date <= DATE '{{ as_of }}' AND (end_date IS NULL OR end_date >= DATE '{{ as_of }}') THEN area_sqm END) AS space_factory_owned_area_sqm,
  sum(CASE WHEN space_type = '写字楼' AND is_owned AND start_date <= DATE '{{ as_of }}' AND (end_date IS NULL OR end_date >= DATE '{{ as_of }}') THEN area_sqm END) AS space_office_owned_area_sqm,
  sum(CASE WHEN space_type = '研发用房' AND is_owned AND start_date <= DATE '{{ as_of }}' AND (end_date IS NULL OR end_date >= DATE '{{ as_of }}') THEN area_sqm END) AS space_rd_space_owned_area_sqm,
  sum(CASE WHEN space_type = '仓储' AND is_owned AND start_date <= DATE '{{ as_of }}' AND (end_date IS NULL OR end_date >= DATE '{{ as_of }}') THEN area_sqm END) AS space_warehouse_owned_area_sqm,
  sum(CASE WHEN space_type = '厂房' AND start_date <= DATE '{{ as_of }}' AND (end_date > DATE '{{ as_of }}' AND end_date <= DATE '{{ as_of }}' + INTERVAL 12 MONTH) THEN area_sqm END) AS space_factory_expiring_1y_sqm,
  sum(CASE WHEN space_type = '写字楼' AND start_date <= DATE '{{ as_of }}' AND (end_date > DATE '{{ as_of }}' AND end_date <= DATE '{{ as_of }}' + INTERVAL 12 MONTH) THEN area_sqm END) AS space_office_expiring_1y_sqm,
  sum(CASE WHEN space_type = '研发用房' AND start_date <= DATE '{{ as_of }}' AND (end_date > DATE '{{ as_of }}' AND end_date <= DATE '{{ as_of }}' + INTERVAL 12 MONTH) THEN area_sqm END) AS space_rd_space_expiring_1y_sqm,
  sum(CASE WHEN space_type = '仓储' AND start_date <= DATE '{{ as_of }}' AND (end_date > DATE '{{ as_of }}' AND end_date <= DATE '{{ as_of }}' + INTERVAL 12 MONTH) THEN area_sqm END) AS space_warehouse_expiring_1y_sqm
FROM {{ ref('stg_industrial_space') }}
GROUP BY uscc
