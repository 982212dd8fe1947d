"""Mount the widget's static files and the agent console on the service's FastAPI app.

The service's composition root creates the app (and its CORS policy) and calls
:func:`mount_ui`; nothing here creates an app or reads settings.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fastapi import FastAPI

    from ui.console import ConsoleBackend

__all__ = ["CACHE_CONTROL", "CONSOLE_PATH", "STATIC_DIR", "STATIC_FILES", "mount_ui"]

STATIC_DIR = Path(__file__).resolve().parent / "static"
CONSOLE_PATH = "/console"
CACHE_CONTROL = "public, max-age=300"
AUTH_MESSAGE = (
    "Agent console: sign in with your agent account "
    "(an administrator creates it with <code>assistant agents add NAME</code>)."
)
#: URL path -> (file in STATIC_DIR, media type)
STATIC_FILES: dict[str, tuple[str, str]] = {
    "/": ("index.html", "text/html; charset=utf-8"),
    "/widget.js": ("widget.js", "text/javascript; charset=utf-8"),
    "/widget.css": ("widget.css", "text/css; charset=utf-8"),
}


def mount_ui(app: FastAPI, backend: ConsoleBackend) -> None:
    """Serve ``/``, ``/widget.js``, ``/widget.css`` and mount the console at ``/console``.

    The console requires a login: Gradio's own login form, checked by
    ``backend.authenticate`` (agents' hashed passwords in SQL); every console event then
    carries the agent's name as ``gr.Request.username``.
    """
    import anyio.to_thread
    import gradio as gr
    from fastapi.responses import FileResponse

    from ui.console import CONSOLE_CSS, build_console

    def static_route(filename: str, media_type: str) -> Callable[[], Awaitable[FileResponse]]:
        path = STATIC_DIR / filename

        async def serve() -> FileResponse:
            headers = {"Cache-Control": CACHE_CONTROL}
            return FileResponse(path, media_type=media_type, headers=headers)

        serve.__name__ = f"ui_static_{filename.replace('.', '_')}"
        return serve

    for url, (filename, media_type) in STATIC_FILES.items():
        app.add_api_route(
            url,
            static_route(filename, media_type),
            methods=["GET", "HEAD"],
            include_in_schema=False,
        )

    async def check_login(username: str, password: str) -> bool:
        # the password hash is deliberately slow: keep it off the event loop
        return await anyio.to_thread.run_sync(backend.authenticate, username, password)

    gr.mount_gradio_app(
        app,
        build_console(backend),
        path=CONSOLE_PATH,
        auth=check_login,
        auth_message=AUTH_MESSAGE,
        footer_links=[],
        ssr_mode=False,
        theme=gr.themes.Soft(primary_hue="green"),
        css=CONSOLE_CSS,
    )
