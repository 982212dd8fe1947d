"""The agent console: pure row/markdown builders and the Gradio app over a fake backend."""

from __future__ import annotations

from typing import Any

from ui import ConsoleBackend, build_console
from ui.console import (
    TABLE_HEADERS,
    conversation_markdown,
    conversation_rows,
    conversation_table,
    escape_markdown,
)


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
    assert waiting[4:6] == ["damaged_item", "negative"]
    assert waiting[6] == "Nov 19 08:02"


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
            }
        ]
    )
    assert rows[0][4:6] == ["refund", "negative"]
    assert len(rows[0][2]) <= 60 and rows[0][2].endswith("…")
    assert rows[0][6] == "Jan 01 00:00"


def test_table_shortens_long_ids_but_keeps_them() -> None:
    long_id = "0123456789abcdef0123456789abcdef"
    rows, ids = conversation_table([{"conversation_id": long_id, "status": "bot"}])
    assert rows[0][1] == "01234567…"
    assert ids == [long_id]


def test_markdown_shows_analysis_per_turn(fake_backend: Any) -> None:
    md = conversation_markdown(fake_backend.get_conversation("c-old"))
    assert "**Customer**" in md and "**Bot**" in md
    assert "intent **order\\_status** (0.93)" in md
    assert "sentiment **neutral** (0.71)" in md
    assert "action **answer**" in md
    assert "reason: confident match" in md
    assert "sources #12 (0.88)" in md


def test_markdown_escapes_html_and_markdown(fake_backend: Any) -> None:
    md = conversation_markdown(fake_backend.get_conversation("c-new"))
    assert "<img" not in md
    assert "&lt;img src=x onerror=alert\\(1\\)&gt;" in md
    assert "\\*\\*bold\\*\\*" in md
    escaped = escape_markdown("[link](javascript:alert(1))")
    assert escaped == "\\[link\\]\\(javascript:alert\\(1\\)\\)"


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


def test_build_console_builds(fake_backend: Any) -> None:
    import gradio as gr

    console = build_console(fake_backend)
    assert isinstance(console, gr.Blocks)
    kinds = {type(block).__name__ for block in console.blocks.values()}
    assert {"Dataframe", "Markdown", "Timer"} <= kinds
