-- GENERATED from catalog/ by `govlake profile generate`; do not edit by hand.
-- Enterprises in scope of this profile build (one row per uscc).
{%- set changed = var('profile_changed_since', none) %}
SELECT DISTINCT uscc FROM {{ ref('stg_enterprise_registry') }}
{%- if changed %}
WHERE uscc IN (
  SELECT uscc FROM {{ ref('stg_enterprise_registry') }} WHERE _load_date >= DATE '{{ changed }}'
  UNION
  SELECT uscc FROM {{ ref('stg_tax_annual') }} WHERE _load_date >= DATE '{{ changed }}'
  UNION
  SELECT uscc FROM {{ ref('stg_social_insurance') }} WHERE _load_date >= DATE '{{ changed }}'
  UNION
  SELECT uscc FROM {{ ref('stg_rd_activity') }} WHERE _load_date >= DATE '{{ changed }}'
  UNION
  SELECT uscc FROM {{ ref('stg_ip_records') }} WHERE _load_date >= DATE '{{ changed }}'
  UNION
  SELECT uscc FROM {{ ref('stg_credit_records') }} WHERE _load_date >= DATE '{{ changed }}'
  UNION
  SELECT uscc FROM {{ ref('stg_statistics') }} WHERE _load_date >= DATE '{{ changed }}'
  UNION
  SELECT uscc FROM {{ ref('stg_financing') }} WHERE _load_date >= DATE '{{ changed }}'
  UNION
  SELECT uscc FROM {{ ref('stg_subsidies') }} WHERE _load_date >= DATE '{{ changed }}'
  UNION
  SELECT uscc FROM {{ ref('stg_industrial_space') }} WHERE _load_date >= DATE '{{ changed }}'
  UNION
  SELECT uscc FROM {{ ref('stg_certificates') }} WHERE _load_date >= DATE '{{ changed }}'
  UNION
  SELECT related_uscc FROM {{ ref('stg_petitions') }} WHERE _load_date >= DATE '{{ changed }}'
)
{%- endif %}
