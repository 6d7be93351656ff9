"""Secrets of the web access, pure: random tokens, their digests, and signed links in mail.

A link in a message carries a signed payload (task, person, expiry, nonce); it is checked
against the injected `now`, never the clock, and used once (its digest is stored on use)."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from itsdangerous import BadSignature, URLSafeSerializer


def new_token() -> str:
    """A fresh random secret for a URL (256 bits)."""
    return secrets.token_urlsafe(32)


def digest(secret: str) -> str:
    """What is stored of a secret: its SHA-256, hex."""
    return hashlib.sha256(secret.encode()).hexdigest()


def client_digest(ip: str, key: str) -> str:
    """An IP address as the rate limit counts it, keyed so the table holds no address."""
    return hashlib.sha256(f"{key}:{ip}".encode()).hexdigest()


class LinkError(ValueError):
    """A link that is not ours, altered, or for another purpose."""


@dataclass(frozen=True)
class TaskLink:
    task_id: int
    email: str
    expires: datetime
    nonce: str

    @property
    def digest(self) -> str:
        return digest(f"{self.task_id}:{self.email}:{self.nonce}")


SALT = "veiligheid-flow/taak-gereed"


def sign_task_link(key: str, link: TaskLink) -> str:
    payload = [link.task_id, link.email, int(link.expires.timestamp()), link.nonce]
    return URLSafeSerializer(key, salt=SALT).dumps(payload)


def read_task_link(key: str, token: str) -> TaskLink:
    """The link's content; raises LinkError when the signature does not hold."""
    if len(token) > 2000:
        raise LinkError("te lang")
    try:
        task_id, email, expires, nonce = URLSafeSerializer(key, salt=SALT).loads(token)
    except (BadSignature, ValueError, TypeError) as exc:
        raise LinkError("ongeldige handtekening") from exc
    if not isinstance(task_id, int) or not isinstance(email, str) or not isinstance(nonce, str):
        raise LinkError("onbekende inhoud")
    return TaskLink(task_id, email, datetime.fromtimestamp(int(expires), UTC), nonce)
