"""Admin API keys: random 32-byte tokens, stored as their sha256 (plus a short display prefix).

A token is shown once, when it is created; it cannot be recovered from the database. A fast
hash is enough for high-entropy random tokens (nothing to brute-force as with passwords).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update

from ..store import Store
from ..store.integrations import ApiKey, rowcount
from ..store.models import utcnow

log = logging.getLogger(__name__)

TOKEN_PREFIX = "csa_"
PREFIX_CHARS = 12  # "csa_" + 8 characters, shown by `keys list`


class KeyNameTaken(ValueError):
    """An active key already has this name."""


@dataclass(frozen=True)
class NewKey:
    name: str
    token: str  # shown once
    prefix: str


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_key(store: Store, name: str) -> NewKey:
    name = name.strip()
    if not name:
        raise ValueError("key name must not be empty")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    prefix = token[:PREFIX_CHARS]
    with store.sessions.begin() as s:
        taken = s.scalars(
            select(ApiKey.id).where(ApiKey.name == name, ApiKey.revoked_at.is_(None))
        ).first()
        if taken is not None:
            raise KeyNameTaken(f"an active key is already named {name!r}; revoke it first")
        s.add(ApiKey(name=name, prefix=prefix, key_hash=hash_token(token)))
    log.info("admin API key %r created (%s...)", name, prefix)
    return NewKey(name, token, prefix)


def list_keys(store: Store) -> list[dict[str, Any]]:
    with store.sessions() as s:
        rows = s.scalars(select(ApiKey).order_by(ApiKey.id)).all()
        return [
            {
                "name": k.name,
                "prefix": k.prefix,
                "created_at": k.created_at.isoformat(),
                "revoked_at": k.revoked_at.isoformat() if k.revoked_at else None,
            }
            for k in rows
        ]


def revoke_key(store: Store, name: str) -> int:
    """Revoke the active key(s) named `name`; returns how many."""
    with store.sessions.begin() as s:
        n = rowcount(
            s.execute(
                update(ApiKey)
                .where(ApiKey.name == name, ApiKey.revoked_at.is_(None))
                .values(revoked_at=utcnow())
            )
        )
    log.info("admin API key %r revoked (%d)", name, n)
    return int(n or 0)


def check_token(store: Store, token: str) -> str | None:
    """The name of the active key for `token`, or None. Hashes are compared in constant time."""
    if not token.startswith(TOKEN_PREFIX) or len(token) < PREFIX_CHARS + 8:
        return None
    digest = hash_token(token)
    with store.sessions() as s:
        rows = s.execute(
            select(ApiKey.name, ApiKey.key_hash).where(
                ApiKey.prefix == token[:PREFIX_CHARS], ApiKey.revoked_at.is_(None)
            )
        ).all()
    found = None
    for name, key_hash in rows:
        if hmac.compare_digest(key_hash.encode(), digest.encode()):
            found = name
    return found
