"""Rate limits for the public chat endpoints: token buckets per client IP and per conversation.

The buckets live in this process's memory. With several workers (``CSA_WORKERS`` > 1) each
process has its own buckets, so a client may get up to ``workers`` times the configured rate;
put a shared limiter in front (the proxy) when that matters.

Wiring (see `create_app`): `install_rate_limits` keeps a `RateLimiter` on ``app.state`` and
answers `RateLimited` with 429, ``Retry-After`` and ``{"detail", "limit"}``; the routers get
`limit_chat` (IP + conversation) or `limit_poll` (IP) as a dependency.
"""

from __future__ import annotations

import json
import logging
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from ..settings import Settings

log = logging.getLogger(__name__)

Clock = Callable[[], float]
MAX_KEYS = 100_000  # buckets kept per limit; the least recently used one is dropped beyond


class TokenBuckets:
    """One token bucket per key: `burst` tokens, refilled at `per_min` tokens a minute.

    `take(key)` spends a token and returns 0.0, or, when the bucket is empty, spends nothing
    and returns the seconds until a token is back. Pure logic over an injected clock.
    """

    def __init__(
        self,
        per_min: float,
        burst: int,
        clock: Clock = time.monotonic,
        max_keys: int = MAX_KEYS,
    ) -> None:
        if per_min <= 0:
            raise ValueError("per_min must be positive")
        if burst < 1:
            raise ValueError("burst must be at least 1")
        self.rate = per_min / 60.0  # tokens a second
        self.burst = burst
        self.clock = clock
        self.max_keys = max_keys
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # key: tokens, at
        self._lock = threading.Lock()

    def take(self, key: str) -> float:
        with self._lock:
            now = self.clock()
            tokens, at = self._buckets.get(key, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + max(0.0, now - at) * self.rate)
            if tokens >= 1.0:
                tokens -= 1.0
                wait = 0.0
            else:
                wait = (1.0 - tokens) / self.rate
            self._buckets[key] = (tokens, now)
            self._buckets.move_to_end(key)
            while len(self._buckets) > self.max_keys:
                self._buckets.popitem(last=False)
            return wait

    def __len__(self) -> int:
        return len(self._buckets)


class RateLimited(Exception):
    """A request over one of the limits; answered 429 with Retry-After."""

    def __init__(self, limit: str, retry_after_s: float, detail: str) -> None:
        super().__init__(detail)
        self.limit = limit
        self.retry_after_s = max(1, math.ceil(retry_after_s))
        self.detail = detail


@dataclass(frozen=True)
class _Limit:
    name: str  # what the 429 says was exceeded: ip | conversation | poll
    per_min: int
    what: str  # "messages from one IP address", ...
    buckets: TokenBuckets


class RateLimiter:
    """The configured limits; a limit with rate 0 is off (and has no buckets)."""

    def __init__(self, settings: Settings, clock: Clock = time.monotonic) -> None:
        self.trust_forwarded_for = settings.trust_forwarded_for
        self.limits: dict[str, _Limit] = {}
        for name, per_min, burst, what in (
            (
                "ip",
                settings.rate_limit_per_ip_per_min,
                settings.rate_limit_ip_burst,
                "chat messages from one IP address",
            ),
            (
                "conversation",
                settings.rate_limit_per_conversation_per_min,
                settings.rate_limit_conversation_burst,
                "chat messages in one conversation",
            ),
            (
                "poll",
                settings.rate_limit_poll_per_ip_per_min,
                # a widget that was in the background catches up with a few requests at once
                max(10, settings.rate_limit_poll_per_ip_per_min // 6),
                "conversation reads from one IP address",
            ),
        ):
            if per_min > 0:
                self.limits[name] = _Limit(name, per_min, what, TokenBuckets(per_min, burst, clock))

    def check(self, name: str, key: str) -> None:
        """Spend one token of limit `name` for `key`; raises `RateLimited` when none is left."""
        limit = self.limits.get(name)
        if limit is None:
            return
        wait = limit.buckets.take(key)
        if wait > 0:
            err = RateLimited(
                name,
                wait,
                f"rate limit exceeded: at most {limit.per_min} {limit.what} a minute; "
                f"retry in {max(1, math.ceil(wait))} s",
            )
            log.warning("rate limit %r hit by %s (retry in %d s)", name, key, err.retry_after_s)
            raise err


def client_ip(request: Request, trust_forwarded_for: bool) -> str:
    """The socket's peer address, or, when trusted, the address the proxy added last to
    ``X-Forwarded-For`` (earlier entries come from the client and may be forged)."""
    if trust_forwarded_for:
        forwarded = request.headers.get("x-forwarded-for", "")
        hops = [h.strip() for h in forwarded.split(",") if h.strip()]
        if hops:
            return hops[-1]
    return request.client.host if request.client else "unknown"


def _conversation_id(body: bytes) -> str | None:
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None
    conv = data.get("conversation_id") if isinstance(data, dict) else None
    return conv if isinstance(conv, str) and 0 < len(conv) <= 64 else None


def _limiter(request: Request) -> RateLimiter | None:
    return getattr(request.app.state, "rate_limiter", None)


async def limit_chat(request: Request) -> None:
    """Dependency of /v1/chat and /v1/chat/stream: the per-IP, then the per-conversation
    bucket (the conversation id is read from the JSON body, already buffered by then)."""
    limiter = _limiter(request)
    if limiter is None:
        return
    limiter.check("ip", client_ip(request, limiter.trust_forwarded_for))
    if "conversation" in limiter.limits:
        conversation_id = _conversation_id(await request.body())
        if conversation_id is not None:
            limiter.check("conversation", conversation_id)


async def limit_poll(request: Request) -> None:
    """Dependency of GET /v1/conversations/{id} (the widget polls it): per client IP."""
    limiter = _limiter(request)
    if limiter is not None:
        limiter.check("poll", client_ip(request, limiter.trust_forwarded_for))


async def _rate_limited(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RateLimited)
    return JSONResponse(
        {"detail": exc.detail, "limit": exc.limit, "retry_after_s": exc.retry_after_s},
        status_code=429,
        headers={"Retry-After": str(exc.retry_after_s)},
    )


def install_rate_limits(app: FastAPI, settings: Settings, clock: Clock = time.monotonic) -> None:
    """Keep the limiter on ``app.state`` and answer `RateLimited` with 429."""
    app.state.rate_limiter = RateLimiter(settings, clock)
    app.add_exception_handler(RateLimited, _rate_limited)
