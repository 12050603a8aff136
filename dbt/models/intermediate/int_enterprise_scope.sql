-- GENERATED from catalog/ by `govlake profile generate`; do not edit by hand.
-- Enterprises in scope of this profile build (one row per uscc).
SELECT DISTINCT uscc FROM {{ ref('stg_enterprise_registry') }}
