"""The portal's login session: a signed cookie (itsdangerous) naming the account, with a nonce
that forms echo back (a cross-site form cannot know it). The signing secret is
GOVLAKE_PORTAL_SECRET, or one generated per lake and kept beside the access store
(<work dir>/_platform/portal_secret, mode 0600), so a restart keeps people logged in and two
lakes never accept each other's cookies."""

from __future__ import annotations

import os
import secrets

from itsdangerous import BadSignature, URLSafeTimedSerializer

from govlake.settings import Settings

COOKIE = "govlake_portal"
MAX_AGE = 8 * 3600  # a working day
_SALT = "govlake.portal.session"


def secret(settings: Settings) -> str:
    env = os.environ.get("GOVLAKE_PORTAL_SECRET")
    if env:
        return env
    path = settings.local_dir / "_platform" / "portal_secret"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_hex(32))
    return path.read_text().strip()


def _serializer(settings: Settings) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret(settings), salt=_SALT)


def issue(settings: Settings, username: str) -> str:
    return _serializer(settings).dumps({"u": username, "n": secrets.token_urlsafe(16)})


def read(settings: Settings, cookie: str | None) -> dict | None:
    """{"u": username, "n": nonce} of a valid, unexpired cookie; None otherwise."""
    if not cookie:
        return None
    try:
        data = _serializer(settings).loads(cookie, max_age=MAX_AGE)
    except BadSignature:  # also SignatureExpired
        return None
    return data if isinstance(data, dict) and "u" in data and "n" in data else None
