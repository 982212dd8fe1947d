"""Named locks in SQL with an owner and an expiry: one retraining at a time, across
processes and machines, and a crashed holder's lock simply expires.

Acquire = INSERT the row, or, when it exists, a conditional UPDATE that only succeeds
when the lock has expired (or is already ours). Both are single statements, so two
contenders can never both win, on SQLite as on PostgreSQL.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import DateTime, Engine, String, delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from .db import session_factory
from .models import Base

log = logging.getLogger(__name__)


def _now() -> datetime:
    """Naive UTC: compared inside SQL, so it must look the same on every backend."""
    return datetime.now(UTC).replace(tzinfo=None)


def _rowcount(result: Any) -> int:
    """Rows an UPDATE matched (CursorResult.rowcount; typed loosely by SQLAlchemy)."""
    return int(result.rowcount)


def default_owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class LockRow(Base):
    __tablename__ = "locks"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    owner: Mapped[str] = mapped_column(String(128))
    acquired_at: Mapped[datetime] = mapped_column(DateTime)
    expires_at: Mapped[datetime] = mapped_column(DateTime)


class LockHeld(RuntimeError):
    """Someone else holds the lock."""

    def __init__(self, name: str, owner: str | None, expires_at: datetime | None) -> None:
        self.name, self.owner, self.expires_at = name, owner, expires_at
        until = f" until {expires_at.isoformat()}Z" if expires_at else ""
        super().__init__(f"lock {name!r} is held by {owner}{until}")


@dataclass(frozen=True)
class LockState:
    owner: str
    acquired_at: datetime
    expires_at: datetime


class SqlLock:
    """`SqlLock(engine, "retrain", ttl_s=3600)`; `with lock.hold(): ...` or acquire/release."""

    def __init__(self, engine: Engine, name: str, ttl_s: float, owner: str | None = None) -> None:
        self.sessions = session_factory(engine)
        self.name = name
        self.ttl = timedelta(seconds=ttl_s)
        self.owner = owner or default_owner()

    def acquire(self) -> bool:
        """Take the lock (or renew it when ours); False when another live owner has it."""
        now = _now()
        try:
            with self.sessions.begin() as s:
                s.add(
                    LockRow(
                        name=self.name, owner=self.owner, acquired_at=now, expires_at=now + self.ttl
                    )
                )
            log.info("lock %s acquired by %s", self.name, self.owner)
            return True
        except IntegrityError:
            pass
        with self.sessions.begin() as s:
            taken = _rowcount(
                s.execute(
                    update(LockRow)
                    .where(LockRow.name == self.name)
                    .where((LockRow.expires_at < now) | (LockRow.owner == self.owner))
                    .values(owner=self.owner, acquired_at=now, expires_at=now + self.ttl)
                )
            )
        if taken:
            log.info("lock %s taken over by %s (expired or ours)", self.name, self.owner)
        return bool(taken)

    def refresh(self) -> bool:
        """Push the expiry forward; False when the lock is no longer ours."""
        with self.sessions.begin() as s:
            return bool(
                _rowcount(
                    s.execute(
                        update(LockRow)
                        .where(LockRow.name == self.name, LockRow.owner == self.owner)
                        .values(expires_at=_now() + self.ttl)
                    )
                )
            )

    def release(self) -> None:
        with self.sessions.begin() as s:
            s.execute(delete(LockRow).where(LockRow.name == self.name, LockRow.owner == self.owner))
        log.info("lock %s released by %s", self.name, self.owner)

    def state(self) -> LockState | None:
        with self.sessions() as s:
            row = s.scalars(select(LockRow).where(LockRow.name == self.name)).first()
            return LockState(row.owner, row.acquired_at, row.expires_at) if row else None

    @contextmanager
    def hold(self) -> Iterator[SqlLock]:
        """Acquire or raise `LockHeld`; refresh every ttl/3 while held; release at the end."""
        if not self.acquire():
            st = self.state()
            raise LockHeld(self.name, st.owner if st else None, st.expires_at if st else None)
        stop = threading.Event()

        def heartbeat() -> None:
            while not stop.wait(self.ttl.total_seconds() / 3):
                if not self.refresh():
                    log.warning("lock %s was lost by %s", self.name, self.owner)
                    return

        beat = threading.Thread(target=heartbeat, name=f"lock-{self.name}", daemon=True)
        beat.start()
        try:
            yield self
        finally:
            stop.set()
            beat.join(timeout=5)
            self.release()
