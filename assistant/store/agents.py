"""Support agents (hashed passwords) and the audit log of what they did.

Passwords are hashed with scrypt (per-user random salt) and compared in constant time;
an unknown user name costs the same hash as a known one.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, Engine, Index, Integer, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from .db import session_factory
from .models import Base, utcnow

__all__ = [
    "Agent",
    "AgentAction",
    "AgentExists",
    "Agents",
    "hash_password",
    "valid_username",
    "verify_password",
]

# scrypt cost: 2**14 x 8 x 1 = 16 MiB, ~50 ms on one core (OWASP's minimum is 2**13... 2**17)
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
_SALT_BYTES, _KEY_BYTES = 16, 32
_USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
MIN_PASSWORD_CHARS = 8


class Agent(Base):
    __tablename__ = "agents"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class AgentAction(Base):
    """Who did what to which conversation or turn, and when (append-only)."""

    __tablename__ = "agent_actions"
    __table_args__ = (Index("ix_agent_actions_conversation", "conversation_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    agent: Mapped[str] = mapped_column(String(64), index=True)
    action: Mapped[str] = mapped_column(String(32))
    conversation_id: Mapped[str | None] = mapped_column(String(64), default=None)
    turn_id: Mapped[int | None] = mapped_column(Integer, default=None)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class AgentExists(ValueError):
    """An agent with that user name already exists."""


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def hash_password(password: str, *, n: int = SCRYPT_N, r: int = SCRYPT_R, p: int = SCRYPT_P) -> str:
    """``scrypt$n$r$p$salt$key`` (base64), with a fresh random salt."""
    salt = secrets.token_bytes(_SALT_BYTES)
    key = hashlib.scrypt(
        password.encode("utf-8"), salt=salt, n=n, r=r, p=p, dklen=_KEY_BYTES, maxmem=2**26
    )
    return f"scrypt${n}${r}${p}${_b64(salt)}${_b64(key)}"


def verify_password(password: str, stored: str) -> bool:
    """True when `password` matches the `stored` hash (constant-time comparison)."""
    try:
        scheme, n, r, p, salt, key = stored.split("$")
        if scheme != "scrypt":
            return False
        want = base64.b64decode(key)
        got = hashlib.scrypt(
            password.encode("utf-8"),
            salt=base64.b64decode(salt),
            n=int(n),
            r=int(r),
            p=int(p),
            dklen=len(want),
            maxmem=2**26,
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, want)


def valid_username(username: str) -> bool:
    return bool(_USERNAME.match(username))


_DUMMY_HASH = hash_password(secrets.token_urlsafe(16))


@dataclass(frozen=True)
class AgentInfo:
    username: str
    active: bool
    created_at: datetime


class Agents:
    """Agent accounts and the audit log, over the service's database."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.sessions = session_factory(engine)

    # accounts --------------------------------------------------------------------
    def add(self, username: str, password: str) -> None:
        username = username.strip()
        if not valid_username(username):
            raise ValueError(
                "user name: 1-64 letters, digits or . _ @ -, starting with a letter or digit"
            )
        if len(password) < MIN_PASSWORD_CHARS:
            raise ValueError(f"password: at least {MIN_PASSWORD_CHARS} characters")
        hashed = hash_password(password)
        with self.sessions.begin() as s:
            if self._get(s, username) is not None:
                raise AgentExists(f"agent {username!r} already exists")
            s.add(Agent(username=username, password_hash=hashed))

    def remove(self, username: str) -> bool:
        """Delete the account (its audit rows stay). False when there was none."""
        with self.sessions.begin() as s:
            agent = self._get(s, username)
            if agent is None:
                return False
            s.delete(agent)
            return True

    def list_agents(self) -> list[AgentInfo]:
        with self.sessions() as s:
            rows = s.scalars(select(Agent).order_by(Agent.username)).all()
            return [AgentInfo(a.username, a.active, a.created_at) for a in rows]

    def authenticate(self, username: str, password: str) -> bool:
        """True for an active agent with this password; same cost whether the name exists."""
        with self.sessions() as s:
            agent = self._get(s, username.strip())
            stored = agent.password_hash if agent is not None and agent.active else None
        ok = verify_password(password, stored or _DUMMY_HASH)
        return ok and stored is not None

    @staticmethod
    def _get(s: Session, username: str) -> Agent | None:
        return s.scalars(select(Agent).where(Agent.username == username)).first()

    # audit -----------------------------------------------------------------------
    def record(
        self,
        agent: str,
        action: str,
        conversation_id: str | None = None,
        turn_id: int | None = None,
        details: dict[str, Any] | None = None,
    ) -> int:
        with self.sessions.begin() as s:
            row = AgentAction(
                agent=agent,
                action=action,
                conversation_id=conversation_id,
                turn_id=turn_id,
                details=dict(details or {}),
            )
            s.add(row)
            s.flush()
            return row.id

    def actions(
        self, conversation_id: str | None = None, agent: str | None = None, limit: int = 200
    ) -> list[dict[str, Any]]:
        """Audit rows, oldest first (the newest `limit`)."""
        with self.sessions() as s:
            q = select(AgentAction).order_by(AgentAction.id.desc()).limit(limit)
            if conversation_id is not None:
                q = q.where(AgentAction.conversation_id == conversation_id)
            if agent is not None:
                q = q.where(AgentAction.agent == agent)
            rows = list(reversed(s.scalars(q).all()))
            return [
                {
                    "id": a.id,
                    "agent": a.agent,
                    "action": a.action,
                    "conversation_id": a.conversation_id,
                    "turn_id": a.turn_id,
                    "details": a.details,
                    "created_at": a.created_at.isoformat() if a.created_at else None,
                }
                for a in rows
            ]
