"""Hostile text in real Chromium: the widget and the agent console keep it text.

A deterministic corpus (a fixed list plus strings mixed by ``random.Random(1234)``) of
HTML/script payloads, markdown, template syntax, emoji (ZWJ sequences, skin tones, flags),
bidi overrides, zero-width and combining characters, astral characters, C0 control characters
and long messages is typed into the widget on the demo page of the real service (tiny random
models, SQLite, rate limits off) and opened in the agent console. Every payload tries to set
``window.__pwned`` (most also call ``alert``); `test_payloads_are_live` proves they do when
parsed as HTML, so the "nothing ran" assertions below can fail.

What the product does to a message before it shows it (and nothing else is allowed):

- the widget's textarea normalises line breaks (CR LF and CR become LF: the HTML spec's
  textarea API value) and the widget trims the message (``String.prototype.trim`` in
  ``send`` of ui/static/widget.js) before it sends and shows it;
- the service stores it with PII redacted (`assistant.redact.redact`, README "PII"),
  which is what a reloaded widget shows;
- no Unicode normalisation (NFD stays NFD), no stripping of control or zero-width characters.
"""

from __future__ import annotations

import json
import random
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

# the existing browser fixtures and helpers; importing them also skips this module, with the
# same message, where Debian's chromium or Playwright is missing
from tests.ui import test_widget_browser as widget_tests
from tests.ui.test_widget_browser import (
    AGENT,
    INPUT,
    ROOT,
    Servers,
    _login,
    _open_widget,
    _serve,
    _tiny_service,
)

browser = widget_tests.browser  # fixtures: pytest finds them in this module's namespace
page = widget_tests.page

pytestmark = pytest.mark.browser

PWN = "window.__pwned=1"

# fire when parsed as HTML (test_payloads_are_live checks each one)
LIVE_HTML = [
    f"<script>{PWN};alert('script')</script>",
    f"<img src=x onerror=\"{PWN};alert('img')\">",
    f"<svg onload=\"{PWN};alert('svg')\"></svg>",
    '"><iframe src="javascript:parent.__pwned=1;parent.alert(\'iframe\')"></iframe>',
    f"<details open ontoggle=\"{PWN};alert('details')\">x</details>",
    f"</textarea></span></div><img src=x onerror={PWN}>",
    f"<math><mtext><table><mglyph><style><img src=x onerror={PWN}>",
    f"<video><source onerror=\"{PWN};alert('video')\"></video>",
]
# dangerous only to some other renderer (a click, a markdown or template engine)
OTHER_MARKUP = [
    f"<a href=\"javascript:{PWN};alert('href')\">click me</a>",
    f"javascript:{PWN}//",
    f"{{{{constructor.constructor('{PWN};alert(1)')()}}}}",
    f"${{{PWN}}} <%= 7*7 %> {{order_number}} %s %(x)s {{0}}",
    f'**bold** _it_ [link](javascript:{PWN}) ![img](x" onerror="{PWN})',
    "# heading\n> quote\n- item\n1. one\n| a | b |\n|---|---|\n`code` ~~gone~~",
    "&lt;script&gt; &amp; &#x3C;img src=x onerror=alert(1)&#x3E; &nbsp;",
    'event: final\ndata: {"reply": "spoofed"}\n\n',
    "'; DROP TABLE turns; --",
    f"<style>.csa-root{{display:none}}</style><base href=//evil.example/><meta content={PWN}>",
]
UNICODE = [
    "👩🏽‍💻 👨‍👩‍👧‍👦 🏳️‍🌈 👍🏿 🇫🇷 ❤️ 🧑🏻‍🤝‍🧑🏾",
    "invoice\u202egnp.exe\u202c and \u202dforced\u202c, مرحبا שלום",
    "zero\u200bwidth\u200cnon\u200djoiner\u2060word\ufeffbom\u00adsoft",
    "Z\u0337\u0321\u031b\u0324\u0354\u0344a\u0306\u0336l\u0337g\u0335o\u0336 e\u0301 (NFD)",
    "𝕳𝖊𝖑𝖑𝖔 𠜎𠜱 🀄 𓀀 \U0010fffd \uffff",
    "line\u2028separator\u2029paragraph",
]
C0 = "".join(chr(c) for c in range(0x20) if c not in (0x0A, 0x0D))  # CR/LF: separate case
CONTROL = [
    f"ctrl[{C0}\x7f]end",
    "\x00",  # NUL alone: not blank to the API (str.strip keeps it), stored as sent
    "line1\nline2\r\nline3\rline4\ttab",
    "   padded \u3000message\xa0\n\t ",
    "A" * 500,  # one long word
    "pii a@b.co 4111 1111 1111 1111 +1 415 555 0100",
]
FIXED = LIVE_HTML + OTHER_MARKUP + UNICODE + CONTROL

WORDS = ["order", "refund", "hello", "lamp", "where", "#1234", "ok?", "thanks!"]
POOLS = [
    LIVE_HTML,
    OTHER_MARKUP,
    UNICODE,
    ["\u202e", "\u200b", "\u200d", "\ufeff", "\u0301", "\u0489", "\u20dd"],
    ["👍🏾", "🤦🏼‍♀️", "🇯🇵", "𝒜", "🂡", "\U0001f9d1\u200d\U0001f680"],
    [chr(c) for c in range(0x20)] + ["\x7f", "\x85", "\u2028"],
]
# JavaScript's String.prototype.trim set (WhiteSpace + LineTerminator)
JS_SPACE = "\t\n\v\f\r \xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009"
JS_SPACE += "\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"


def generated(n: int = 14, seed: int = 1234) -> list[str]:
    """`n` messages, each a word and 2-6 fragments from `POOLS` in random order and joins."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        parts = [rng.choice(WORDS)] + [
            rng.choice(rng.choice(POOLS)) for _ in range(rng.randint(2, 6))
        ]
        rng.shuffle(parts)
        out.append(rng.choice(["", " ", "\n", "\t"]).join(parts))
    return out


CORPUS = FIXED + generated()


def shown(text: str) -> str:
    """What the widget sends and shows for `text` typed into its textarea (module doc)."""
    return text.replace("\r\n", "\n").replace("\r", "\n").strip(JS_SPACE)


# --------------------------------------------------------------------------------------------
# the real service on tiny random models, rate limits off (the corpus is one conversation)
# --------------------------------------------------------------------------------------------


@dataclass
class Service:
    servers: Servers
    store: Any


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    from ui.app import create_full_app

    settings, store, engine = _tiny_service(
        tmp_path_factory.mktemp("hostile"),
        rate_limit_per_ip_per_min=0,
        rate_limit_per_conversation_per_min=0,
        rate_limit_poll_per_ip_per_min=0,
    )
    with _serve(lambda origin: create_full_app(settings, engine=engine)) as running:
        yield Service(running, store)


# --------------------------------------------------------------------------------------------
# in-page checks
# --------------------------------------------------------------------------------------------

# elements a payload could smuggle in; the widget renders some (svg icons, its form)
SMUGGLED = (
    "script, img, iframe, frame, svg, math, object, embed, style, link, base, meta, a, "
    "details, video, audio, source, input, form, body, template, marquee"
)
# attributes that run or load something (text-only ones such as aria-label may quote a payload)
INJECTED_JS = """() => {
    const active = /^(href|src|srcdoc|srcset|action|formaction|xlink:href|data|style|content)$/i;
    const hits = [];
    for (const el of document.querySelectorAll('*')) {
        for (const a of el.attributes) {
            if (/^on/i.test(a.name)) hits.push(el.tagName + '@' + a.name);
            else if (active.test(a.name) && /__pwned|^\\s*javascript:/i.test(a.value)) {
                hits.push(el.tagName + '@' + a.name + ' __pwned');
            }
        }
        if (el.tagName === 'SCRIPT' && el.textContent.includes('__pwned')) hits.push('SCRIPT');
    }
    return hits;
}"""


def _injected(page: Any) -> list[str]:
    """Every inline handler in the page, and every element with a payload's code (or any
    javascript: URL) in an attribute that runs or loads it."""
    hits: list[str] = page.evaluate(INJECTED_JS)
    return hits


def _pwned(page: Any) -> str:
    kind: str = page.evaluate("typeof window.__pwned")
    return kind


def _smuggled(page: Any, container: str) -> dict[str, int]:
    counts: dict[str, int] = page.evaluate(
        """([sel, tags]) => {
            const out = {};
            for (const el of document.querySelector(sel).querySelectorAll(tags)) {
                out[el.tagName] = (out[el.tagName] || 0) + 1;
            }
            return out;
        }""",
        [container, SMUGGLED],
    )
    return counts


def _customer_texts(page: Any) -> list[str]:
    texts: list[str] = page.evaluate(
        "[...document.querySelectorAll('.csa-root .csa-msg--customer .csa-text')]"
        ".map(e => e.textContent)"
    )
    return texts


def _log_tags(page: Any) -> set[str]:
    """Tag names of every element in the widget's message log."""
    return set(
        page.evaluate("[...document.querySelectorAll('.csa-root .csa-log *')].map(e => e.tagName)")
    )


SETTLED = """([n]) => {
    const root = document.querySelector('.csa-root');
    const error = root.querySelector('.csa-error');
    return !root.classList.contains('csa-busy')
        && (root.querySelectorAll('.csa-msg--customer').length > n || !error.hidden);
}"""


def _send(page: Any, text: str, how: str = "enter") -> None:
    """Put `text` in the input like a user (fill = paste, type = keystrokes) and send it;
    waits until the widget is idle again with one more customer bubble or an error."""
    before = len(_customer_texts(page))
    box = page.locator(INPUT)
    if how == "type":
        box.fill("")
        box.press_sequentially(text)
    elif how == "script":  # a value no keyboard limit applies to (maxlength is not checked)
        box.evaluate("(el, v) => { el.value = v; el.dispatchEvent(new Event('input')); }", text)
    else:
        box.fill(text)
    if how == "click":
        page.locator(f"{ROOT} .csa-send").click()
    else:
        box.press("Enter")
    page.wait_for_function(SETTLED, arg=[before])


def _how(i: int, text: str) -> str:
    """Vary how message `i` is entered: typed key by key (some short texts without control
    characters, which are not keys), else pasted; sent with Enter or the send button."""
    if i % 5 == 3 and len(text) < 80 and min(map(ord, text)) >= 0x20:
        return "type"
    return ("click", "enter")[i % 2]


def _error(page: Any) -> str:
    error = page.locator(f"{ROOT} .csa-error")
    return (error.text_content() or "") if error.is_visible() else ""


# --------------------------------------------------------------------------------------------
# tests
# --------------------------------------------------------------------------------------------


def test_payloads_are_live(page: Any) -> None:
    """Each HTML payload runs when a page parses it as HTML: the detectors below can fire."""
    for payload in LIVE_HTML:
        page.set_content(f"<!doctype html><title>sink</title><body><div>{payload}</div></body>")
        page.wait_for_function("window.__pwned === 1", timeout=5_000)
    assert "SOURCE@onerror" in _injected(page)  # the detector sees the last one's element
    assert page.dialogs  # the alert() ones opened dialogs


def test_widget_keeps_hostile_text_as_text(page: Any, service: Service) -> None:
    from assistant.redact import redact

    page.goto(service.servers.api + "/")
    _open_widget(page)
    page_handlers = _injected(page)  # the demo page's own inline handlers, if any
    assert not [h for h in page_handlers if "__pwned" in h]
    widget_elements = _smuggled(page, ROOT)
    assert widget_elements.get("svg", 0) > 0  # the icons: the counter sees them

    expected = []
    for i, text in enumerate(CORPUS):
        _send(page, text, _how(i, text))
        assert _error(page) == "", (text, _error(page))
        expected.append(shown(text))
        assert _customer_texts(page)[-1] == expected[-1], text
    # the input has no cap of its own (the API's limit applies): a long paste arrives whole
    assert page.locator(INPUT).get_attribute("maxlength") is None
    longest = ("é<b>x</b>" * 2000)[:2000]
    _send(page, longest)
    expected.append(longest)

    assert page.dialogs == []
    assert _pwned(page) == "undefined"
    assert _injected(page) == page_handlers
    assert _smuggled(page, ROOT) == widget_elements
    assert _log_tags(page) <= {"DIV", "SPAN", "P"}
    assert _customer_texts(page) == expected
    assert page.locator(f"{ROOT} .csa-panel").is_visible()  # no <style> payload took hold

    # what the service stored, shown again after a reload (PII redacted, nothing else)
    conv_id = page.evaluate(f"localStorage.getItem('csa:conversation:{service.servers.api}')")
    messages = service.store.get_conversation(conv_id)["messages"]
    assert [m["text"] for m in messages if m["role"] == "customer"] == [redact(e) for e in expected]
    page.reload()
    _open_widget(page)
    page.wait_for_function(
        "([n]) => document.querySelectorAll('.csa-root .csa-msg--customer').length >= n",
        arg=[len(expected)],
    )
    assert _customer_texts(page) == [redact(e) for e in expected]
    assert page.dialogs == []
    assert _pwned(page) == "undefined"
    assert _injected(page) == page_handlers
    assert _log_tags(page) <= {"DIV", "SPAN", "P"}


def test_widget_over_the_limit_shows_an_error_and_keeps_the_text(
    page: Any, service: Service
) -> None:
    """The API's limit (4,000 characters, README): at the limit the message goes through;
    one more and the widget says so and keeps the text (set by script here; pasting: below)."""
    limit = 4000
    assert limit == service.servers.app.state.services.settings.max_message_chars
    unit = f"é<img src=x onerror={PWN}>\t"  # BMP only: JS and Python count the same
    at_limit = (unit * limit)[:limit]
    over = (unit * limit)[: limit + 1]

    page.goto(service.servers.api + "/")
    _open_widget(page)
    _send(page, at_limit, "script")
    assert _error(page) == ""
    assert _customer_texts(page) == [at_limit]

    _send(page, over, "script")
    error = _error(page)
    assert "413" in error and f"limit is {limit}" in error, error
    assert page.locator(INPUT).input_value() == over  # the typed text is kept
    assert _customer_texts(page) == [at_limit]  # and not shown as sent

    # blank to the API (Python's str.strip drops \x1c-\x1f), not to JavaScript's trim: not
    # shown as sent, a clear error, the text stays in the box
    page.locator(INPUT).fill("")
    blank = "\x1c\x1d\x1e\x1f"
    _send(page, blank)
    assert "(422)" in _error(page) and "empty" in _error(page), _error(page)
    assert page.locator(INPUT).input_value() == blank
    assert _customer_texts(page) == [at_limit]

    assert page.dialogs == []
    assert _pwned(page) == "undefined"
    assert _log_tags(page) <= {"DIV", "SPAN", "P"}


# Found by this module: the textarea had maxlength 2000 while the API takes 4,000, so a
# longer paste was cut silently. The widget has no cap of its own now: the API's 413 says.


def test_widget_pasted_message_up_to_the_limit_is_kept_whole(page: Any, service: Service) -> None:
    text = ("Where is my order? " * 300)[:4000].strip()
    page.goto(service.servers.api + "/")
    _open_widget(page)
    page.locator(INPUT).fill(text)  # Playwright's fill inserts text as a paste does
    assert page.locator(INPUT).input_value() == text


def test_widget_pasted_message_over_the_limit_gets_an_error(page: Any, service: Service) -> None:
    text = "x" * 4001
    page.goto(service.servers.api + "/")
    _open_widget(page)
    _send(page, text)
    assert "4000" in _error(page)
    assert page.locator(INPUT).input_value() == text
    assert _customer_texts(page) == []


# --------------------------------------------------------------------------------------------
# the agent console
# --------------------------------------------------------------------------------------------

# texts the console must show as they are (its view is Markdown: `escape_markdown` quotes them)
CONSOLE_TEXTS = [
    LIVE_HTML[1],
    LIVE_HTML[0],
    LIVE_HTML[3],
    OTHER_MARKUP[0],  # a javascript: link
    OTHER_MARKUP[4],  # markdown links and images to javascript:
    OTHER_MARKUP[2],  # template injection
    "# heading\n> quote\n- item\n+ plus\n| a | b |\n|---|---|\n`code` ~~gone~~ <!-- c -->",
    "&lt;script&gt; &amp; &#x3C;img src=x onerror=alert(1)&#x3E;",
    UNICODE[0] + " " + UNICODE[1],
    f"ctrl[\x01\x07\x1b\x1f]end {LIVE_HTML[6]}",
]
AGENT_TEXT = f"{LIVE_HTML[2]} sorry {LIVE_HTML[4]}"


def _post_chat(base: str, message: str, conversation_id: str | None) -> str:
    """One customer message through the real chat API; returns the conversation id."""
    body: dict[str, Any] = {"message": message}
    if conversation_id:
        body["conversation_id"] = conversation_id
    request = urllib.request.Request(
        base + "/v1/chat",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        cid: str = json.load(response)["conversation_id"]
    return cid


def _open_in_console(page: Any, base: str, conversation_id: str) -> Any:
    """Log in, click the conversation's row in the queue; returns the conversation view."""
    page.set_viewport_size({"width": 1440, "height": 960})
    _login(page, base)
    page.locator("#csa-whoami").get_by_text(AGENT).wait_for(state="visible", timeout=30_000)
    row = page.locator("#csa-queue [role=gridcell]", has_text=conversation_id[:8]).first
    row.wait_for(state="visible", timeout=30_000)
    row.click()
    view = page.locator("#csa-conversation")
    view.get_by_text(f"Conversation {conversation_id}").wait_for(state="visible")
    return view


def test_console_shows_hostile_text_as_text(page: Any, service: Service) -> None:
    from ui.console import turn_choices

    base = service.servers.api
    cid = None
    for text in CONSOLE_TEXTS:
        cid = _post_chat(base, text, cid)
    assert cid is not None
    service.store.add_agent_message(cid, AGENT, AGENT_TEXT)

    page.goto(base + "/console/")  # the login page: the console's own inline handlers, if any
    page.locator("input[type=password]").wait_for(state="visible", timeout=60_000)
    page_handlers = _injected(page)
    assert not [h for h in page_handlers if "__pwned" in h]
    view = _open_in_console(page, base, cid)
    shown_text = view.inner_text()
    for text in [*CONSOLE_TEXTS, AGENT_TEXT]:
        for line in text.splitlines():
            assert line in shown_text, line
    # the queue previews the last message (the agent's), one line, as text
    assert AGENT_TEXT[:40] in page.locator("#csa-queue").inner_text()
    # the "Teach the bot" list labels customer turns with their text
    page.get_by_text("Teach the bot").click()
    page.locator("#csa-turn input").click()
    page.get_by_role("option").first.wait_for(state="visible")
    options = "\n".join(page.get_by_role("option").all_inner_texts())
    labels = [label for label, _ in turn_choices(service.store.get_conversation(cid))[0]]
    assert len(labels) == len(CONSOLE_TEXTS)
    for label in labels:
        assert label in options, (label, options)

    assert page.dialogs == []
    assert _pwned(page) == "undefined"
    assert _injected(page) == page_handlers
    for part in ("#csa-conversation", "#csa-queue", "#csa-teach"):
        found = _smuggled(page, part)
        assert not {"SCRIPT", "IMG", "IFRAME", "DETAILS", "MATH", "VIDEO"} & set(found), (
            part,
            found,
        )
    assert _smuggled(page, "#csa-conversation") == {}


# Found by this module: backslash escaping left ordered-list markers ("3. "), setext
# underlines ("==="), $$...$$ (gr.Markdown's KaTeX) and autolinked URLs live in the console.
LITERAL_MARKDOWN = [
    "3. three",  # shown as a list item "three"
    "Title\n===",  # shown as a heading "Title", the underline gone
    "$$x^2$$",  # shown as KaTeX math
    "see https://e.example/x_y",  # shown and linked as https://e.example/x\_y
]


def test_console_shows_markdown_syntax_literally(page: Any, service: Service) -> None:
    cid = None
    for text in LITERAL_MARKDOWN:
        cid = _post_chat(service.servers.api, text, cid)
    assert cid is not None
    shown_text = _open_in_console(page, service.servers.api, cid).inner_text()
    missing = [line for text in LITERAL_MARKDOWN for line in text.splitlines()]
    missing = [line for line in missing if line not in shown_text]
    assert missing == []
