"""One audit row per API request (govlake.access.audit), allowed or denied, recorded after the
response status is known and before the answer starts (into the worker's audit journal while
serving, govlake.access.audit_journal). The route fills in what it learns (consumer, product, version,
filters, rows, purpose) on the request's AuditEvent; a request refused before that (no key,
bad parameters) is still recorded with its status and client address.
"""

from __future__ import annotations

import math

from starlette.requests import Request

from govlake.access.audit import AuditEvent, record as record_audit
from govlake.access.consumers import AuthError, key_id_of, verify_key
from govlake.access.database import AccessStore
from govlake.access.rate_limits import DENIAL

SCOPE_KEY = "govlake.audit"
UNAUDITED = {"/health", "/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"}
# the portal's pages audit what matters themselves (portal.login, portal.read and their refusals)
PORTAL_PREFIX = "/portal"


def audit_event(request: Request) -> AuditEvent:
    """The request's audit event, to fill in (a detached one outside the middleware)."""
    ev = request.scope.get(SCOPE_KEY)
    if ev is None:
        ev = request.scope[SCOPE_KEY] = AuditEvent(action="", outcome="")
    return ev


def outcome_of(status: int) -> str:
    return "allowed" if status < 400 else "denied" if status < 500 else "error"


def _bearer(scope) -> str | None:
    for k, v in scope.get("headers") or []:
        if k == b"authorization":
            scheme, _, token = v.decode("latin-1").partition(" ")
            return token.strip() if scheme.lower() == "bearer" else None
    return None


class AuditMiddleware:
    """Pure ASGI (no response buffering): wraps `send` to see the status before it goes out."""

    def __init__(self, app, store: AccessStore):
        self.app, self.store = app, store

    def _identify(self, scope, ev: AuditEvent) -> None:
        token = _bearer(scope)
        if not token:
            return
        try:
            ident = verify_key(self.store, token)
        except AuthError:
            ev.key_id = key_id_of(token)
            return
        ev.actor_kind, ev.actor, ev.key_id = "consumer", ident.consumer_id, ident.key_id

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["path"] in UNAUDITED or scope["path"].startswith(PORTAL_PREFIX):
            return await self.app(scope, receive, send)
        client = scope.get("client")
        ev = scope[SCOPE_KEY] = AuditEvent(action=f"{scope['method']} {scope['path'][:300]}", outcome="",
                                           client=client[0] if client else None)
        done = []
        # a refusal by the rate limiter, whichever route or package made the read, notes itself here
        # (govlake.access.rate_limits): the audit row gets its reason, the answer Retry-After
        note: dict = {}
        DENIAL.set(note)

        def record(code: int) -> None:
            ev.status, ev.outcome = code, outcome_of(code)
            if code == 429 and note.get("reason"):
                ev.detail = " ".join(filter(None, (note["message"][:300], ev.detail)))
            if ev.actor is None:  # refused before the route looked at the key (e.g. a parameter out of bounds)
                self._identify(scope, ev)
            if ev.outcome != "allowed":
                ev.rows = 0 if ev.rows is not None else None
            # into this worker's journal (folded into the table off the request path), before the answer
            record_audit(self.store, ev, usage_rows=(ev.rows or 0) if ev.outcome == "allowed" else 0)
            done.append(code)

        async def send_audited(message):
            # the row is written before the response starts: no audit row, no answer (fail closed)
            if message["type"] == "http.response.start" and not done:
                record(message["status"])
                if message["status"] == 429 and "retry_after" in note and not any(
                        k.lower() == b"retry-after" for k, _ in message.get("headers") or []):
                    retry = str(max(1, math.ceil(note["retry_after"]))).encode()
                    message = {**message, "headers": [*(message.get("headers") or []), (b"retry-after", retry)]}
            await send(message)

        try:
            await self.app(scope, receive, send_audited)
        except Exception:
            if not done:  # the error handler outside answers 500
                ev.detail = ((ev.detail or "") + " unhandled error").strip()
                record(500)
            raise
