"""The agent console: pure row/markdown builders and the Gradio app over a fake backend."""

from __future__ import annotations

import html
from typing import Any

from ui import ConsoleBackend, build_console
from ui.console import (
    TABLE_HEADERS,
    activity_markdown,
    analytics_summary,
    analytics_tables,
    conversation_markdown,
    conversation_rows,
    conversation_table,
    escape_markdown,
    next_draft,
    sort_conversations,
    turn_choices,
)

XSS = "<img src=x onerror=alert(1)> **bold** [x](javascript:alert(1))"


def test_fake_backend_satisfies_protocol(fake_backend: Any) -> None:
    assert isinstance(fake_backend, ConsoleBackend)


def test_rows_waiting_first_then_most_recent(fake_backend: Any) -> None:
    rows = conversation_rows(fake_backend.list_conversations())
    assert [r[1] for r in rows] == ["c-waiting", "c-new", "c-old"]
    assert all(len(r) == len(TABLE_HEADERS) for r in rows)
    waiting = rows[0]
    assert "WAITING" in waiting[0]
    assert waiting[2] == "Hi, I'm Sam. Sorry about the lamp!"
    assert waiting[3] == 3
    assert waiting[4:7] == ["damaged_item", "negative", ""]
    assert waiting[7] == "Nov 19 08:02"


def test_rows_accept_dict_labels_and_truncate() -> None:
    rows = conversation_rows(
        [
            {
                "conversation_id": "x",
                "status": "agent",
                "created_at": "2025-01-01T00:00:00Z",
                "updated_at": None,
                "last_message": "word " * 40,
                "turns": 2,
                "last_intent": {"name": "refund", "confidence": 0.8},
                "last_sentiment": {"label": "negative", "score": 0.6},
                "assigned_agent": "sam",
            }
        ]
    )
    assert rows[0][4:7] == ["refund", "negative", "sam"]
    assert len(rows[0][2]) <= 60 and rows[0][2].endswith("…")
    assert rows[0][7] == "Jan 01 00:00"


def test_table_shortens_long_ids_but_keeps_them() -> None:
    long_id = "0123456789abcdef0123456789abcdef"
    rows, ids = conversation_table([{"conversation_id": long_id, "status": "bot"}])
    assert rows[0][1] == "01234567…"
    assert ids == [long_id]


def test_markdown_shows_analysis_per_turn(fake_backend: Any) -> None:
    md = conversation_markdown(fake_backend.get_conversation("c-old"))
    assert "**Customer**" in md and "**Bot**" in md
    assert "intent **order&#95;status** (0.93)" in md
    assert "sentiment **neutral** (0.71)" in md
    assert "action **answer**" in md
    assert "reason: confident match" in md
    assert "sources #12 (0.88)" in md


def test_markdown_escapes_html_and_markdown(fake_backend: Any) -> None:
    md = conversation_markdown(fake_backend.get_conversation("c-new"))
    assert "<img" not in md
    assert "&lt;img src&#61;x onerror&#61;alert&#40;1&#41;&gt;" in md
    assert "&#42;&#42;bold&#42;&#42;" in md
    escaped = escape_markdown("[link](javascript:alert(1))")
    assert escaped == "&#91;link&#93;&#40;javascript&#58;alert&#40;1&#41;&#41;"
    # what backslash escaping missed: list markers, setext underlines, math, autolinks
    assert escape_markdown("3. three") == "3&#46; three"
    assert escape_markdown("===") == "&#61;&#61;&#61;"
    assert escape_markdown("$$x$$") == "&#36;&#36;x&#36;&#36;"
    assert "https:" not in escape_markdown("https://e.example/x_y")
    assert html.unescape(escape_markdown(XSS + " é 🙂 a_b")) == XSS + " é 🙂 a_b"


def test_markdown_agent_author_and_empty() -> None:
    assert "Select a conversation" in conversation_markdown(None)
    md = conversation_markdown(
        {
            "conversation_id": "a",
            "status": "agent",
            "created_at": "2025-01-01T00:00:00",
            "messages": [{"id": 1, "role": "agent", "text": "line1\nline2", "author": "sam"}],
        }
    )
    assert "**Agent (sam)**" in md
    assert "> line1  \n> line2" in md


def _c(cid: str, status: str, sentiment: str, updated: str) -> dict[str, Any]:
    return {
        "conversation_id": cid,
        "status": status,
        "last_sentiment": sentiment,
        "updated_at": f"2025-11-21T{updated}:00+00:00",
    }


def test_queue_order_waiting_negative_then_age() -> None:
    convs = [
        _c("bot-old", "bot", "neutral", "07:00"),
        _c("closed-neg", "closed", "negative", "12:00"),
        _c("wait-new", "waiting_for_agent", "neutral", "10:05"),
        _c("bot-neg", "bot", "negative", "08:00"),
        _c("agent-neg", "agent", "negative", "09:00"),
        _c("wait-old", "waiting_for_agent", "positive", "10:00"),
        _c("bot-new", "bot", "neutral", "11:00"),
        _c("wait-neg", "waiting_for_agent", "negative", "10:10"),
        _c("agent-old", "agent", "neutral", "06:00"),
    ]
    order = [c["conversation_id"] for c in sort_conversations(convs)]
    assert order == [
        "wait-neg",  # waiting + negative, even though it waits the least
        "wait-old",  # then the longest wait
        "wait-new",
        "agent-neg",  # with an agent
        "agent-old",
        "bot-neg",  # with the bot: negative first, then the most recent
        "bot-new",
        "bot-old",
        "closed-neg",  # closed last
    ]
    # dict-shaped sentiment counts too
    mixed = [_c("a", "bot", "neutral", "09:00"), _c("b", "bot", "x", "08:00")]
    mixed[1]["last_sentiment"] = {"label": "negative", "score": 0.9}
    assert [c["conversation_id"] for c in sort_conversations(mixed)] == ["b", "a"]


def test_hostile_text_everywhere_is_inert() -> None:
    conv = {
        "conversation_id": "x<b>",
        "status": "agent",
        "assigned_agent": "<script>alert(1)</script>",
        "created_at": "2025-01-01T00:00:00Z",
        "approved_turns": [2],
        "messages": [
            {
                "id": 1,
                "role": "customer",
                "text": XSS,
                "intent": "<i>x</i>",
                "sentiment": "negative",
                "corrected": {"intents": {"label": "gift_wrap", "author": "<b>sam</b>"}},
            },
            {"id": 2, "role": "agent", "text": XSS, "author": "<b>sam</b>"},
        ],
    }
    md = conversation_markdown(conv)
    for raw in ("<img", "<script", "<b>", "<i>", "](javascript"):
        assert raw not in md
    assert "&lt;script&gt;alert&#40;1&#41;&lt;&#47;script&gt;" in md
    assert "intent corrected to **gift&#95;wrap** by &lt;b&gt;sam&lt;&#47;b&gt;" in md
    assert "✔ in the knowledge base" in md
    activity = activity_markdown(
        [
            {
                "agent": "<b>sam</b>",
                "action": "correct_intent",
                "details": {"label": XSS},
                "turn_id": 1,
                "created_at": "2025-01-01T00:05:00Z",
            }
        ]
    )
    assert "<img" not in activity and "<b>" not in activity
    assert "corrected the intent" in activity and "(\\#1)" in activity
    customer, agent = turn_choices(conv)
    assert (customer[0][1], agent[0][1]) == (1, 2)  # labels are plain text in a dropdown


def test_turn_choices_newest_first() -> None:
    conv = {
        "messages": [
            {"id": 1, "role": "customer", "text": "a", "intent": "greeting"},
            {"id": 2, "role": "bot", "text": "b"},
            {"id": 3, "role": "agent", "text": "c"},
            {"id": 4, "role": "customer", "text": "d", "intent": "refund"},
            {"id": 5, "role": "agent", "text": "e"},
        ]
    }
    customer, agent = turn_choices(conv)
    assert customer == [("#4 · d [refund]", 4), ("#1 · a [greeting]", 1)]
    assert agent == [("#5 · e", 5), ("#3 · c", 3)]
    assert turn_choices(None) == ([], [])


def test_next_draft_keeps_what_the_agent_typed() -> None:
    assert next_draft("", "", "Your order ships today.") == "Your order ships today."
    assert next_draft("old draft", "old draft", "new draft") == "new draft"
    assert next_draft("my own words", "old draft", "new draft") == "my own words"
    assert next_draft("my own words", "same", "same") == "my own words"
    assert next_draft("old", "old", "") == ""


def test_analytics_tables_and_summary(fake_backend: Any) -> None:
    data = fake_backend.analytics()
    tables = analytics_tables(data)
    assert tables["per_day"] == (["day", "conversations"], [["2025-11-19", 1]])
    assert tables["reasons"] == (["reason", "count"], [["customer asked for a person", 1]])
    assert tables["low_confidence"][1] == [["greeting", 0.55, 1]]
    summary = analytics_summary(data)
    assert "**1** conversations" in summary
    assert "deflection **50%**" in summary and "handoff rate **33%**" in summary
    empty = analytics_tables({})
    assert all(rows == [] for _, rows in empty.values())
    assert "deflection **–**" in analytics_summary({})


def test_build_console_builds(fake_backend: Any) -> None:
    import gradio as gr

    console = build_console(fake_backend)
    assert isinstance(console, gr.Blocks)
    kinds = {type(block).__name__ for block in console.blocks.values()}
    assert {"Dataframe", "Markdown", "Timer", "Tab", "BarPlot", "Dropdown", "Radio"} <= kinds
    buttons = {b.value for b in console.blocks.values() if isinstance(b, gr.Button)}
    assert {"Take over", "Hand back to the bot", "Close", "Send"} <= buttons
