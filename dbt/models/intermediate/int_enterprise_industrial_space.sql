-- GENERATED from catalog/ by `govlake profile generate`; do not edit by hand.
-- 产业空间 (industrial_space): 38 profile fields, one row per enterprise (uscc).
-- Derived fields are one projection of int_enterprise_base: a derived field that
-- reads other derived fields (any category) has their SQL substituted inline.
{%- set as_of = var('as_of', none) or var('load_date', none) or modules.datetime.date.today().isoformat() %}
{%- set y1 = (as_of | string)[:4] | int - 1 %}
SELECT
  uscc,
  space_active_area_sqm,
  space_active_lease_count,
  space_owned_area_sqm,
  CAST(space_active_area_sqm - space_owned_area_sqm AS DOUBLE) AS space_rented_area_sqm,
  space_avg_rent_yuan_sqm,
  space_monthly_rent_wan,
  space_park_count,
  space_area_1y_ago_sqm,
  CAST(space_active_area_sqm - space_area_1y_ago_sqm AS DOUBLE) AS space_area_change_1y_sqm,
  space_new_leases_1y,
  space_ended_leases_1y,
  space_first_start_date,
  CAST(space_active_area_sqm / nullif(insured_headcount_y1, 0) AS DOUBLE) AS space_area_per_employee_sqm,
  CAST(revenue_y1_wan / nullif(space_active_area_sqm, 0) AS DOUBLE) AS space_output_per_sqm_wan,
  CAST(total_tax_y1_wan / nullif(space_active_area_sqm, 0) AS DOUBLE) AS space_tax_per_sqm_wan,
  space_expiring_3m_sqm,
  space_expiring_6m_sqm,
  space_expiring_1y_sqm,
  space_factory_area_sqm,
  space_office_area_sqm,
  space_rd_space_area_sqm,
  space_warehouse_area_sqm,
  space_factory_count,
  space_office_count,
  space_rd_space_count,
  space_warehouse_count,
  space_factory_avg_rent_yuan_sqm,
  space_office_avg_rent_yuan_sqm,
  space_rd_space_avg_rent_yuan_sqm,
  space_warehouse_avg_rent_yuan_sqm,
  space_factory_owned_area_sqm,
  space_office_owned_area_sqm,
  space_rd_space_owned_area_sqm,
  space_warehouse_owned_area_sqm,
  space_factory_expiring_1y_sqm,
  space_office_expiring_1y_sqm,
  space_rd_space_expiring_1y_sqm,
  space_warehouse_expiring_1y_sqm
FROM {{ ref('int_enterprise_base') }}
