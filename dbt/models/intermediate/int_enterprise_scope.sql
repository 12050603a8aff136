-- GENERATED from catalog/ by `govlake profile generate`; do not edit by hand.
-- Enterprises in scope of this profile build (one row per uscc); with the var changed_since,
-- those with a bronze row loaded since (an incremental).
SELECT DISTINCT uscc FROM {{ ref('stg_enterprise_registry') }}
{%- if var('changed_since', none) %}
WHERE uscc IN (
  SELECT uscc FROM (
    SELECT uscc FROM {{ source('bronze', 'enterprise_registry') }} WHERE _load_date >= {{ profile_changed_since() }}
    UNION
    SELECT uscc FROM {{ source('bronze', 'tax_annual') }} WHERE _load_date >= {{ profile_changed_since() }}
    UNION
    SELECT uscc FROM {{ source('bronze', 'social_insurance') }} WHERE _load_date >= {{ profile_changed_since() }}
    UNION
    SELECT uscc FROM {{ source('bronze', 'rd_activity') }} WHERE _load_date >= {{ profile_changed_since() }}
    UNION
    SELECT uscc FROM {{ source('bronze', 'ip_records') }}
    WHERE ip_id IN (SELECT ip_id FROM {{ source('bronze', 'ip_records') }} c WHERE _load_date >= {{ profile_changed_since() }})
    UNION
    SELECT uscc FROM {{ source('bronze', 'credit_records') }}
    WHERE record_id IN (SELECT record_id FROM {{ source('bronze', 'credit_records') }} c WHERE _load_date >= {{ profile_changed_since() }})
    UNION
    SELECT uscc FROM {{ source('bronze', 'statistics') }} WHERE _load_date >= {{ profile_changed_since() }}
    UNION
    SELECT uscc FROM {{ source('bronze', 'financing') }}
    WHERE event_id IN (SELECT event_id FROM {{ source('bronze', 'financing') }} c WHERE _load_date >= {{ profile_changed_since() }})
    UNION
    SELECT uscc FROM {{ source('bronze', 'subsidies') }}
    WHERE award_id IN (SELECT award_id FROM {{ source('bronze', 'subsidies') }} c WHERE _load_date >= {{ profile_changed_since() }})
    UNION
    SELECT uscc FROM {{ source('bronze', 'industrial_space') }}
    WHERE lease_id IN (SELECT lease_id FROM {{ source('bronze', 'industrial_space') }} c WHERE _load_date >= {{ profile_changed_since() }})
    UNION
    SELECT uscc FROM {{ source('bronze', 'certificates') }}
    WHERE cert_id IN (SELECT cert_id FROM {{ source('bronze', 'certificates') }} c WHERE _load_date >= {{ profile_changed_since() }})
    UNION
    SELECT related_uscc FROM {{ source('bronze', 'petitions') }}
    WHERE ticket_id IN (SELECT ticket_id FROM {{ source('bronze', 'petitions') }} c WHERE _load_date >= {{ profile_changed_since() }})
  ) loaded
)
{%- endif %}
