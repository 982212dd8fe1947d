"""`BodySizeLimit`: refuse request bodies over a size limit with 413, before anything parses
them. A declared ``Content-Length`` is checked up front; a body without one (chunked) is
read and counted up to the limit, then handed on to the application."""

from __future__ import annotations

import logging
from collections.abc import Mapping

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger(__name__)


class BodySizeLimit:
    """ASGI middleware for paths under `prefix`: at most `max_bytes` of body (0 = no limit),
    or the limit of the longest matching prefix in `overrides`."""

    def __init__(
        self,
        app: ASGIApp,
        max_bytes: int,
        prefix: str = "/v1/",
        overrides: Mapping[str, int] | None = None,
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.prefix = prefix
        self.overrides = sorted((overrides or {}).items(), key=lambda kv: -len(kv[0]))

    def limit_for(self, path: str) -> int:
        for prefix, limit in self.overrides:
            if path.startswith(prefix):
                return limit
        return self.max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not str(scope["path"]).startswith(self.prefix):
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(str(scope["path"]))
        if limit <= 0:
            await self.app(scope, receive, send)
            return
        declared = None
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                declared = value
                break
        if declared is not None:
            try:
                size = int(declared)
            except ValueError:
                await _refuse(scope, receive, send, 400, "Content-Length is not a number")
                return
            if size > limit:
                await self._too_large(scope, receive, send, limit, f"is {size} bytes")
                return
            await self.app(scope, receive, send)
            return
        # no Content-Length (chunked): read and count, up to the limit
        buffered: list[Message] = []
        size = 0
        while True:
            message = await receive()
            buffered.append(message)
            if message["type"] != "http.request":
                break  # the client went away: let the application see it
            size += len(message.get("body", b""))
            if size > limit:
                await self._too_large(scope, receive, send, limit, f"exceeds {limit} bytes")
                return
            if not message.get("more_body", False):
                break

        async def replay() -> Message:
            if buffered:
                return buffered.pop(0)
            return await receive()

        await self.app(scope, replay, send)

    @staticmethod
    async def _too_large(scope: Scope, receive: Receive, send: Send, limit: int, how: str) -> None:
        log.warning("%s %s refused: body %s (limit %d)", scope["method"], scope["path"], how, limit)
        await _refuse(
            scope,
            receive,
            send,
            413,
            f"request body {how}; the limit is {limit} bytes",
        )


async def _refuse(scope: Scope, receive: Receive, send: Send, status: int, detail: str) -> None:
    await JSONResponse({"detail": detail}, status_code=status)(scope, receive, send)
