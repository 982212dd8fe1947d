"""Read JSON bodies that arrive labelled as a form, as `curl -d '{...}'` sends them.

curl's `-d` sets `Content-Type: application/x-www-form-urlencoded`; FastAPI would then
refuse the JSON it carries. For POSTs under /v1/ the label is treated as JSON, so the
README's one-line curl works without `-H`. A body that is really a form then fails JSON
parsing and gets the usual 422 saying so. Webhooks read their raw bytes and are unaffected.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

FORM = b"application/x-www-form-urlencoded"


class FormLabelledJson:
    def __init__(self, app: ASGIApp, prefix: str = "/v1/") -> None:
        self.app = app
        self.prefix = prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and scope["method"] == "POST"
            and scope["path"].startswith(self.prefix)
        ):
            headers = [
                (k, b"application/json")
                if k == b"content-type" and v.split(b";")[0].strip().lower() == FORM
                else (k, v)
                for k, v in scope["headers"]
            ]
            scope = {**scope, "headers": headers}
        await self.app(scope, receive, send)
