"""Schemathesis over the app's own OpenAPI document, in process (ASGI): generated requests to
every route, with a valid key, never get a 5xx (but a declared 503 for a model not yet trained),
and every status returned is declared.

Driven through Hypothesis directly: schemathesis' pytest plugin does not run under this pytest
(AttributeError '_nodeid' at collection)."""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from schemathesis.specs.openapi.checks import status_code_conformance

from govlake.api.app import create_app


def test_no_server_error_and_every_status_declared(small_lake, settings, store, H):
    schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(settings))
    ops = [r.ok() for r in schema.get_all_operations()]
    assert {op.path for op in ops} >= {"/products", "/products/{name}", "/products/{name}/rows.csv",
                                       "/enterprises/{uscc}/profile", "/petitions/form"}
    headers = H("kcj_policy_portal")
    seen: set[int] = set()
    for op in ops:
        @given(case=op.as_strategy())
        @hypothesis_settings(max_examples=20, deadline=None, derandomize=True, database=None,
                             suppress_health_check=list(HealthCheck))
        def run(case):
            r = case.call_and_validate(headers=headers, checks=[status_code_conformance])
            # 503 "nothing trained yet" (dispatch, pre-credit) is declared and expected on this lake;
            # any other 5xx is a fault
            assert r.status_code < 500 or r.status_code == 503 and "503" in op.definition.raw["responses"], \
                (op.path, r.status_code, r.text[:300])
            seen.add(r.status_code)

        run()
    assert seen & {200} and seen & {400, 404, 422}  # the fuzzing reached both answers and refusals
