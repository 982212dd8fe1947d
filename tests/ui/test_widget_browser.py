"""The chat widget in a real headless Chromium, embedded cross-origin with one tag.

Two servers on free loopback ports, both in background threads:
- the *API server* (uvicorn): ``make_app(allowed_origin)`` = chat endpoints + ``mount_ui``;
- the *host page server* (``http.server``): bare HTML pages that embed the widget with one
  ``<script>`` tag pointing at the API server (another origin, so CORS is exercised).

Uses Debian's chromium (``/usr/bin/chromium``) through Playwright's Python API; never
downloads a browser.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest
import uvicorn
from fastapi import FastAPI, HTTPException
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from ui import mount_ui

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
OUTPUT_DIR = Path(__file__).resolve().parents[2] / "test-output"
XSS = "<img src=x onerror=alert(1)>"

if not CHROMIUM.exists():
    pytest.skip(
        "browser tests need Debian's chromium at /usr/bin/chromium "
        "(apt-get install -y chromium; `make test` installs it)",
        allow_module_level=True,
    )
sync_api = pytest.importorskip("playwright.sync_api")


# --------------------------------------------------------------------------------------------
# fake_chat_app: an in-test STAND-IN for the service (assistant/). It implements the three
# endpoints the widget uses (/v1/chat, /v1/chat/stream, GET /v1/conversations/{id}) over an
# in-memory store, with canned replies. The service owner swaps the `fake_chat_app` fixture
# for the real app factory; everything below the fixture only relies on the HTTP contract.
# --------------------------------------------------------------------------------------------


class _ChatIn(BaseModel):
    conversation_id: str | None = None
    message: str = Field(min_length=1, max_length=2000)


def _now() -> str:
    return datetime.now(UTC).isoformat()


class _FakeStore:
    """Conversations in a dict; also serves as the console's ConsoleBackend."""

    def __init__(self) -> None:
        self.conversations: dict[str, dict[str, Any]] = {}
        self._next_id = 1

    def add(self, conversation_id: str, role: str, text: str, **extra: Any) -> None:
        conv = self.conversations[conversation_id]
        msg = {"id": self._next_id, "role": role, "text": text, "created_at": _now(), **extra}
        self._next_id += 1
        conv["messages"].append(msg)
        conv["updated_at"] = msg["created_at"]

    def turn(self, body: _ChatIn) -> dict[str, Any]:
        cid = body.conversation_id
        if cid is None or cid not in self.conversations:
            cid = uuid4().hex
            now = _now()
            self.conversations[cid] = {
                "conversation_id": cid,
                "status": "bot",
                "created_at": now,
                "updated_at": now,
                "messages": [],
            }
        conv = self.conversations[cid]
        text = body.message
        low = text.lower()
        quick: list[str] = []
        if "person" in low or "human" in low:
            intent, action, reply = (
                "handoff_request",
                "handoff",
                (
                    "Of course. I'm connecting you with a member of our team; "
                    "they'll reply here in a moment."
                ),
            )
            conv["status"] = "waiting_for_agent"
        elif "deliver" in low or "shipping" in low:
            intent, action, reply = (
                "delivery_time",
                "answer",
                (
                    "Standard delivery takes 2–4 business days, express 1–2 business days. "
                    "Orders over $60 ship free."
                ),
            )
        elif low.strip() in {"hi", "hello", "help"}:
            intent, action, reply = "greeting", "clarify", "Happy to help! What is it about?"
            quick = ["Track my order", "Return an item", "Delivery times"]
        else:
            intent, action, reply = "other", "answer", f"Thanks! You wrote: {text}"
        self.add(cid, "customer", text, intent=intent, confidence=0.9, sentiment="neutral")
        self.add(cid, "bot", reply, action=action, reason="fake", sources=[])
        return {
            "conversation_id": cid,
            "reply": reply,
            "action": action,
            "intent": {"name": intent, "confidence": 0.9},
            "sentiment": {"label": "neutral", "score": 0.8},
            "sources": [],
            "turn_id": conv["messages"][-1]["id"],
            "quick_replies": quick,
            "status": conv["status"],
        }

    # ConsoleBackend
    def list_conversations(self, limit: int = 100) -> list[dict[str, Any]]:
        return [
            {
                "conversation_id": c["conversation_id"],
                "status": c["status"],
                "created_at": c["created_at"],
                "updated_at": c["updated_at"],
                "last_message": c["messages"][-1]["text"] if c["messages"] else "",
                "turns": len(c["messages"]),
                "last_intent": None,
                "last_sentiment": None,
            }
            for c in list(self.conversations.values())[:limit]
        ]

    def get_conversation(self, conversation_id: str) -> dict[str, Any] | None:
        return self.conversations.get(conversation_id)


def make_app(allowed_origin: str) -> FastAPI:
    """fake_chat_app factory: stand-in chat API + CORS for the host page + mount_ui."""
    store = _FakeStore()
    app = FastAPI()
    app.state.fake_store = store
    app.add_middleware(
        CORSMiddleware,
        allow_origins=[allowed_origin],
        allow_methods=["GET", "POST"],
        allow_headers=["*"],
    )

    @app.post("/v1/chat")
    def chat(body: _ChatIn) -> dict[str, Any]:
        return store.turn(body)

    @app.post("/v1/chat/stream")
    def chat_stream(body: _ChatIn) -> StreamingResponse:
        result = store.turn(body)

        async def events() -> AsyncIterator[str]:
            words = result["reply"].split(" ")
            for i, word in enumerate(words):
                chunk = word if i == 0 else " " + word
                yield f"event: delta\ndata: {json.dumps({'text': chunk})}\n\n"
                await asyncio.sleep(0.04)
            yield f"event: final\ndata: {json.dumps(result)}\n\n"

        return StreamingResponse(events(), media_type="text/event-stream")

    @app.get("/v1/conversations/{conversation_id}")
    def conversation(conversation_id: str) -> dict[str, Any]:
        conv = store.get_conversation(conversation_id)
        if conv is None:
            raise HTTPException(404, "unknown conversation")
        return conv

    mount_ui(app, store)
    return app


@pytest.fixture(scope="module")
def fake_chat_app() -> Callable[[str], FastAPI]:
    """The app factory under test: swap for the real service's factory (same signature)."""
    return make_app


# --------------------------------------------------------------------------------------------
# servers
# --------------------------------------------------------------------------------------------


@dataclass
class Servers:
    api: str  # e.g. http://127.0.0.1:41234 (uvicorn: chat API + widget + console)
    host: str  # e.g. http://127.0.0.1:41235 (plain page embedding the widget)
    app: FastAPI


def _free_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


HOSTILE_CSS = """
  body { font-family: Georgia, serif; margin: 0; padding: 48px; background: #f3efe7; }
  /* deliberately aggressive host styles: the widget must not inherit them */
  button { background: rgb(255, 0, 0); font-size: 30px; border: 5px dashed blue; }
  p { margin: 40px; color: rgb(0, 0, 128); }
  textarea, input { background: yellow; }
"""


def _host_page(api: str, endpoint: str, extra: str = "") -> bytes:
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Host page</title>
<style>{HOSTILE_CSS}</style></head>
<body>
<h1>Somebody else's page</h1>
<p id="host-p">This page is served from another origin and embeds the widget with one tag.</p>
<script src="{api}/widget.js" data-endpoint="{endpoint}" data-title="Harbor &amp; Pine support"
  data-color="#2f6f4f" data-greeting="Hi! How can I help?" {extra} defer></script>
</body></html>""".encode()


@pytest.fixture(scope="module")
def servers(fake_chat_app: Callable[[str], FastAPI]) -> Iterator[Servers]:
    with _serve(fake_chat_app) as running:
        yield running


@pytest.fixture(scope="module")
def real_servers(demo_settings: Any) -> Iterator[Servers]:
    """The real service (`ui.app.create_full_app`) on the demo models, CORS for the host page."""
    from ui.app import create_full_app

    def factory(origin: str) -> FastAPI:
        return create_full_app(demo_settings.model_copy(update={"cors_origins": [origin]}))

    with _serve(factory) as running:
        yield running


@contextlib.contextmanager
def _serve(make: Callable[[str], FastAPI]) -> Iterator[Servers]:
    api_sock = _free_socket()
    api = f"http://127.0.0.1:{api_sock.getsockname()[1]}"
    dead_sock = _free_socket()  # bound, never listening: connections are refused
    dead = f"http://127.0.0.1:{dead_sock.getsockname()[1]}"
    pages: dict[str, bytes] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            body = pages.get(self.path.split("?")[0])
            self.send_response(200 if body else 404)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.end_headers()
            self.wfile.write(body or b"not found")

        def log_message(self, format: str, *args: Any) -> None:
            pass

    host_server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    host = f"http://127.0.0.1:{host_server.server_address[1]}"
    pages["/"] = _host_page(api, api, 'data-poll-interval="1000"')
    pages["/down"] = _host_page(api, dead)
    host_thread = threading.Thread(target=host_server.serve_forever, daemon=True)
    host_thread.start()

    app = make(host)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    api_thread = threading.Thread(target=server.run, kwargs={"sockets": [api_sock]}, daemon=True)
    api_thread.start()
    deadline = time.monotonic() + 120
    while not server.started:
        if time.monotonic() > deadline or not api_thread.is_alive():
            raise RuntimeError("the API server did not start")
        time.sleep(0.05)
    try:
        yield Servers(api=api, host=host, app=app)
    finally:
        server.should_exit = True
        api_thread.join(timeout=10)
        host_server.shutdown()
        host_server.server_close()
        dead_sock.close()
        api_sock.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as pw:
        chromium = pw.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    pg = context.new_page()
    pg.set_default_timeout(15_000)
    dialogs: list[str] = []
    pg.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    pg.dialogs = dialogs
    try:
        yield pg
    finally:
        context.close()


# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------

ROOT = ".csa-root"
INPUT = f"{ROOT} textarea.csa-input"


def _open_widget(page: Any) -> None:
    launcher = page.locator(f"{ROOT} .csa-launcher")
    launcher.wait_for(state="visible")
    launcher.click()
    page.locator(f"{ROOT} .csa-panel").wait_for(state="visible")
    assert page.evaluate("document.activeElement.classList.contains('csa-input')")


def _bot_texts(page: Any) -> list[str]:
    texts: list[str] = page.locator(f"{ROOT} .csa-msg--bot .csa-text").all_text_contents()
    return texts


def _bot_count(page: Any) -> int:
    count: int = page.locator(f"{ROOT} .csa-msg--bot").count()
    return count


def _await_reply(page: Any, before: int) -> str:
    """Wait until a bot reply beyond the first `before` has finished; returns its text."""
    page.wait_for_function(
        """([n]) => {
            const rows = document.querySelectorAll('.csa-root .csa-msg--bot');
            return rows.length > n && !rows[rows.length - 1].classList.contains('csa-msg--pending')
                && !document.querySelector('.csa-root .csa-send').disabled;
        }""",
        arg=[before],
    )
    return _bot_texts(page)[-1]


def _ask(page: Any, text: str) -> str:
    """Type, press Enter, wait for the reply to finish; returns the last bot text."""
    before = _bot_count(page)
    page.locator(INPUT).fill(text)
    page.locator(INPUT).press("Enter")
    return _await_reply(page, before)


# --------------------------------------------------------------------------------------------
# tests
# --------------------------------------------------------------------------------------------


def test_chat_stream_xss_reload_and_screenshot(page: Any, servers: Servers) -> None:
    page.goto(servers.host + "/")
    _open_widget(page)
    assert _bot_texts(page) == ["Hi! How can I help?"]  # the greeting
    log = page.locator(f"{ROOT} [role=log]")
    assert log.get_attribute("aria-live") == "polite"

    # record every text the reply bubble shows, to see the reply stream in
    page.evaluate(
        """() => {
            window.__seen = [];
            new MutationObserver(() => {
                const b = document.querySelectorAll('.csa-root .csa-msg--bot .csa-text');
                const t = b.length ? b[b.length - 1].textContent : '';
                if (t && window.__seen[window.__seen.length - 1] !== t) window.__seen.push(t);
            }).observe(document.querySelector('.csa-root .csa-log'),
                       {subtree: true, childList: true, characterData: true});
        }"""
    )
    question = "How long does delivery take?"
    answer = _ask(page, question)
    assert answer.strip()
    assert "business days" in answer  # the fake's canned answer
    seen: list[str] = page.evaluate("window.__seen")
    assert len(seen) > 2 and seen[-1] == answer
    assert any(answer.startswith(s) and s != answer for s in seen), "reply was not streamed"
    assert page.locator(INPUT).input_value() == ""
    conv_id = page.evaluate(f"localStorage.getItem('csa:conversation:{servers.api}')")
    assert conv_id

    # clarify -> quick replies as buttons; clicking one sends its text
    _ask(page, "hi")
    chips = page.locator(f"{ROOT} .csa-quick button")
    assert chips.all_text_contents() == ["Track my order", "Return an item", "Delivery times"]
    before = _bot_count(page)
    chips.nth(2).click()
    assert "business days" in _await_reply(page, before)
    assert page.locator(f"{ROOT} .csa-msg--customer .csa-text").last.text_content() == (
        "Delivery times"
    )
    assert page.locator(f"{ROOT} .csa-quick").is_hidden()

    # HTML in messages (the customer's and the bot's echo) is shown as text
    _ask(page, XSS)
    assert page.locator(f"{ROOT} .csa-msg--customer .csa-text").last.text_content() == XSS
    assert XSS in _bot_texts(page)[-1]
    assert page.locator("img").count() == 0
    assert page.dialogs == []

    # the host page's hostile CSS does not reach the widget, and ours does not leak out
    send_bg = page.evaluate(
        "getComputedStyle(document.querySelector('.csa-root .csa-send')).backgroundColor"
    )
    assert send_bg == "rgb(47, 111, 79)"  # data-color, despite `button {background: red}`
    assert page.evaluate("getComputedStyle(document.getElementById('host-p')).marginTop") == "40px"

    # reload: the history comes back from GET /v1/conversations/{id}
    customer_before = page.locator(f"{ROOT} .csa-msg--customer .csa-text").all_text_contents()
    page.reload()
    _open_widget(page)
    page.wait_for_function("document.querySelectorAll('.csa-root .csa-msg--customer').length >= 4")
    restored = page.locator(f"{ROOT} .csa-msg--customer .csa-text").all_text_contents()
    assert restored == customer_before == [question, "hi", "Delivery times", XSS]
    assert answer in _bot_texts(page)
    assert page.locator("img").count() == 0
    assert page.evaluate(f"localStorage.getItem('csa:conversation:{servers.api}')") == conv_id

    # the conversation continues in the same id; then the screenshot
    _ask(page, "help")
    page.locator(f"{ROOT} .csa-quick button").first.wait_for(state="visible")
    page.wait_for_timeout(300)  # let the entry animations settle
    OUTPUT_DIR.mkdir(exist_ok=True)
    page.screenshot(path=str(OUTPUT_DIR / "widget.png"))
    assert page.dialogs == []


def test_unknown_stored_conversation_starts_fresh(page: Any, servers: Servers) -> None:
    page.goto(servers.host + "/")
    page.evaluate(f"localStorage.setItem('csa:conversation:{servers.api}', 'no-such-id')")
    page.reload()
    _open_widget(page)
    page.wait_for_function(f"localStorage.getItem('csa:conversation:{servers.api}') === null")
    assert _bot_texts(page) == ["Hi! How can I help?"]
    assert page.locator(f"{ROOT} .csa-error").is_hidden()


def test_errors_keep_the_typed_text(page: Any, servers: Servers) -> None:
    # an endpoint nobody listens on: a clear error line, the text stays in the box
    page.goto(servers.host + "/down")
    _open_widget(page)
    page.locator(INPUT).fill("Where is my order?")
    page.locator(INPUT).press("Enter")
    error = page.locator(f"{ROOT} .csa-error")
    error.wait_for(state="visible")
    assert "couldn't reach" in (error.text_content() or "")
    assert page.locator(INPUT).input_value() == "Where is my order?"
    assert page.locator(f"{ROOT} .csa-msg--customer").count() == 0

    # a 5xx with a detail: the detail is shown (as text)
    page.goto(servers.host + "/")
    page.route(
        "**/v1/chat**",
        lambda route: route.fulfill(
            status=503,
            content_type="application/json",
            headers={"Access-Control-Allow-Origin": servers.host},
            body=json.dumps({"detail": "<b>maintenance</b> until 10:00"}),
        ),
    )
    _open_widget(page)
    page.locator(INPUT).fill("Hello?")
    page.locator(f"{ROOT} .csa-send").click()
    error.wait_for(state="visible")
    assert "503" in (error.text_content() or "")
    assert "<b>maintenance</b> until 10:00" in (error.text_content() or "")
    assert page.locator(f"{ROOT} .csa-error b").count() == 0
    assert page.locator(INPUT).input_value() == "Hello?"


def test_handoff_then_agent_messages_are_polled(page: Any, servers: Servers) -> None:
    page.goto(servers.host + "/")
    _open_widget(page)
    page.locator(f"{ROOT} .csa-human").click()
    page.wait_for_function(
        "document.querySelector('.csa-root').dataset.csaStatus === 'waiting_for_agent'"
    )
    assert page.locator(f"{ROOT} .csa-msg--customer .csa-text").last.text_content() == (
        "I'd like to talk to a person"
    )
    assert page.locator(f"{ROOT} .csa-human").is_hidden()

    store = getattr(servers.app.state, "fake_store", None)
    if store is None:
        pytest.skip("agent messages are injected through the fake app's store")
    conv_id = page.evaluate(f"localStorage.getItem('csa:conversation:{servers.api}')")
    store.conversations[conv_id]["status"] = "agent"
    store.add(conv_id, "agent", f"Hi, I'm Sam {XSS}", author="Sam")
    agent = page.locator(f"{ROOT} .csa-msg--agent .csa-text")
    agent.wait_for(state="visible", timeout=10_000)
    assert agent.text_content() == f"Hi, I'm Sam {XSS}"
    assert page.locator("img").count() == 0
    page.wait_for_function("document.querySelector('.csa-root').dataset.csaStatus === 'agent'")
    page.wait_for_timeout(1500)  # another poll: the agent message is not repeated
    assert page.locator(f"{ROOT} .csa-msg--agent").count() == 1


def test_demo_page_embeds_the_widget(page: Any, servers: Servers) -> None:
    page.goto(servers.api + "/")
    assert "Harbor & Pine" in page.title()
    _open_widget(page)
    assert _ask(page, "Do you ship to Portland?")  # same origin, relative /widget.js
    OUTPUT_DIR.mkdir(exist_ok=True)
    page.wait_for_timeout(300)
    page.screenshot(path=str(OUTPUT_DIR / "demo-page.png"))


def test_real_service_in_the_widget(page: Any, real_servers: Servers) -> None:
    """The real service end to end: fine-tuned demo models, FAISS, SQLite, cross-origin."""
    page.goto(real_servers.host + "/")
    _open_widget(page)
    answer = _ask(page, "where is my order 48213?")
    assert "48213" in answer
    conv_id = page.evaluate(f"localStorage.getItem('csa:conversation:{real_servers.api}')")
    store = real_servers.app.state.services.store
    stored = store.get_conversation(conv_id)
    assert stored["messages"][0]["intent"] == "order_status"
    assert stored["messages"][1]["text"] == answer

    handoff = _ask(page, "let me talk to a real person")
    assert "team" in handoff
    store.add_agent_message(conv_id, "sam", "Hi, Sam from Harbor & Pine here <b>!</b>")
    agent = page.locator(f"{ROOT} .csa-msg--agent .csa-text").last
    agent.wait_for(state="visible", timeout=20_000)
    assert agent.text_content() == "Hi, Sam from Harbor & Pine here <b>!</b>"
    OUTPUT_DIR.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(OUTPUT_DIR / "widget-real-service.png"))


# --------------------------------------------------------------------------------------------
# the agent console (/console) on the real service: tiny models, SQLite, agents with passwords
# --------------------------------------------------------------------------------------------

AGENT, PASSWORD = "sam", "correct horse battery"
LAMP = f"My lamp arrived broken {XSS}"


@dataclass
class Console:
    servers: Servers
    waiting_id: str


def _tiny_service(root: Path, **settings_overrides: Any) -> tuple[Any, Any, Any]:
    """(settings, store, engine) of the real service on tiny random models under `root`:
    SQLite, one knowledge-base pair, an agent account (AGENT / PASSWORD)."""
    from tiny_models import make_tiny_bert

    from assistant.engine import Models
    from assistant.runtime import build_engine
    from assistant.settings import Settings
    from assistant.store import Store, init_db, make_engine
    from assistant.store.agents import Agents
    from intents import TextClassifier
    from retrieval import KnowledgeBase, QAPair, SentenceEncoder

    bert = make_tiny_bert(root / "bert")
    settings = Settings(data_dir=root / "var", **settings_overrides)
    db = make_engine(settings.db_url)
    init_db(db)
    store = Store(db)
    Agents(db).add(AGENT, PASSWORD)
    kb = KnowledgeBase(SentenceEncoder(bert))
    kb.build([QAPair(1, "Where is my order?", "It is on its way.", "order_status")])
    names = sorted(json.loads((settings.demo_dir / "intents.json").read_text()))
    models = Models(
        intent=TextClassifier.create(bert, names, "intents"),
        sentiment=TextClassifier.create(bert, ["negative", "neutral", "positive"], "sentiment"),
        knowledge=kb,
    )
    return settings, store, build_engine(settings, store, models)


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    """`ui.app.create_full_app` on tiny random models, an agent and a few conversations."""
    from assistant.store import BotTurn, CustomerTurn
    from ui.app import create_full_app

    settings, store, engine = _tiny_service(tmp_path_factory.mktemp("console"))

    def conversation(customer: CustomerTurn, bot: BotTurn, status: str) -> str:
        return store.record_turn(None, customer, bot, {}, {}, status=status).conversation_id

    conversation(
        CustomerTurn("Where is my order 48213?", "order_status", 0.93, "neutral", 0.71),
        BotTurn("Order 48213 is on its way.", "answer", "confident match", [{"id": 1, "score": 1}]),
        "bot",
    )
    conversation(
        CustomerTurn("Do you ship to Portland?", "shipping_destinations", 0.88, "positive", 0.8),
        BotTurn("Yes, we ship everywhere in the US.", "answer", "confident match"),
        "closed",
    )
    waiting = conversation(
        CustomerTurn(LAMP, "damaged_item", 0.81, "negative", 0.95),
        BotTurn("I'm connecting you with a member of our team.", "handoff", "asked for a person"),
        "waiting_for_agent",
    )
    with _serve(lambda origin: create_full_app(settings, engine=engine)) as running:
        yield Console(running, waiting)


def _login(page: Any, base: str, password: str = PASSWORD) -> None:
    page.goto(base + "/console/")
    page.locator("input[type=password]").wait_for(state="visible", timeout=60_000)
    page.locator("input[type=text], input:not([type])").first.fill(AGENT)
    page.locator("input[type=password]").fill(password)
    page.get_by_role("button", name="Login").click()


def test_console_requires_login(page: Any, console: Console) -> None:
    import urllib.error
    import urllib.request

    base = console.servers.api
    with pytest.raises(urllib.error.HTTPError) as denied:
        urllib.request.urlopen(base + "/console/config", timeout=10)
    assert denied.value.code == 401

    page.goto(base + "/console/")
    page.locator("input[type=password]").wait_for(state="visible", timeout=60_000)
    assert page.get_by_role("button", name="Login").is_visible()
    assert page.locator("#csa-queue").count() == 0
    assert "lamp" not in page.content()

    _login(page, base, password="not the password")
    page.get_by_text("Incorrect credentials").wait_for(state="visible")
    assert page.locator("#csa-queue").count() == 0


def test_console_take_over_and_reply(page: Any, console: Console) -> None:
    base, cid = console.servers.api, console.waiting_id
    store = console.servers.app.state.services.store
    page.set_viewport_size({"width": 1440, "height": 960})
    _login(page, base)
    page.locator("#csa-whoami").get_by_text(AGENT).wait_for(state="visible", timeout=30_000)

    waiting = page.locator("#csa-queue [role=gridcell]", has_text="WAITING").first
    waiting.wait_for(state="visible")
    waiting.click()
    view = page.locator("#csa-conversation")
    view.get_by_text("My lamp arrived broken").wait_for(state="visible")
    assert XSS in view.inner_text()  # shown as text, not markup
    assert page.locator("#csa-conversation img").count() == 0
    assert "asked for a person" in view.inner_text()  # the policy's reason

    page.locator("#csa-take").click()
    notice = page.locator("#csa-notice")
    notice.get_by_text("You have the conversation").wait_for(state="visible")
    conv = store.get_conversation(cid)
    assert (conv["status"], conv["assigned_agent"]) == ("agent", AGENT)

    reply = "Hi, I'm Sam. So sorry about the lamp: a replacement ships today."
    page.locator("#csa-draft textarea").fill(reply)
    page.locator("#csa-send").click()
    notice.get_by_text("Reply sent").wait_for(state="visible")
    view.get_by_text("Agent (sam)").wait_for(state="visible")

    last = store.get_conversation(cid)["messages"][-1]
    assert (last["role"], last["author"], last["text"]) == ("agent", AGENT, reply)
    from assistant.store.agents import Agents

    audit = Agents(store.engine).actions(cid)
    assert [(a["agent"], a["action"]) for a in audit] == [(AGENT, "take_over"), (AGENT, "send")]
    page.wait_for_function("document.querySelector('#csa-draft textarea').value === ''")
    assert page.dialogs == []

    page.get_by_text("Teach the bot").click()
    page.wait_for_timeout(500)
    OUTPUT_DIR.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(OUTPUT_DIR / "console.png"), full_page=True)

    page.get_by_role("tab", name="Analytics").click()
    page.get_by_text("conversations since").wait_for(state="visible")
    page.wait_for_timeout(1500)  # let the plots draw
    page.screenshot(path=str(OUTPUT_DIR / "console-analytics.png"), full_page=True)
