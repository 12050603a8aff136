"""The data sandbox (数据沙箱：可用不可见、可算不可识): an outside party computes over the products
it is granted; the computation runs inside the platform and only safe results leave.

Python API:

    from govlake import cleanroom
    cleanroom.submit_sql(settings, consumer, "SELECT street_code, count(*) FROM gold.enterprise_profile "
                                             "GROUP BY street_code")          -> JobResult
    cleanroom.submit_model(settings, consumer, "precredit", usccs=[...])     -> JobResult
        # both raise cleanroom.JobRefused (.status 400/403/404/422/500, .job_id, .audit_id)
    cleanroom.record_authorisation(settings, uscc, party, purpose, days=90, by=...)  # 企业授权
    cleanroom.revoke_authorisation(settings, authorisation_id, by=...)
    cleanroom.Ledger(settings).set_k(consumer, 20, by=..., at=...) / .k_for(consumer) / .jobs()

What may leave (docs/cleanroom.md): cells covering at least k enterprises (k per consumer, default
10; smaller cells suppressed and counted); no answer whose cells, added to and subtracted from
each other and from the cells already released to the consumer's department or organisation,
isolate fewer than k enterprises (differencing: pairs, three terms, a breakdown against its
margin; govlake.cleanroom.differencing); per-enterprise model results only for
enterprises that authorised the consumer for the model's purpose; never rows.
CLI: `govlake cleanroom ...` (govlake.cleanroom.cli); HTTP: POST /cleanroom/jobs (routes.py).
"""

from govlake.cleanroom.aggregate_query import QueryRefused
from govlake.cleanroom.authorisations import Authorisation, AuthorisationError
from govlake.cleanroom.authorisations import record as record_authorisation
from govlake.cleanroom.authorisations import revoke as revoke_authorisation
from govlake.cleanroom.jobs import JobRefused, JobResult, submit_model, submit_sql
from govlake.cleanroom.ledger import DEFAULT_K, Ledger

__all__ = ["QueryRefused", "Authorisation", "AuthorisationError", "record_authorisation", "revoke_authorisation",
           "JobRefused", "JobResult", "submit_model", "submit_sql", "DEFAULT_K", "Ledger"]
