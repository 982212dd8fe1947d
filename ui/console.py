"""The agent console: a Gradio app over a :class:`ConsoleBackend`.

Only presentation lives here. The functions that turn backend dicts into table rows and
markdown are pure (no Gradio) so they can be tested directly; ``gradio`` is imported inside
:func:`build_console` so that ``import ui`` stays fast.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    import gradio

__all__ = [
    "REFRESH_SECONDS",
    "TABLE_HEADERS",
    "ConsoleBackend",
    "build_console",
    "conversation_markdown",
    "conversation_rows",
    "conversation_table",
    "escape_markdown",
    "sort_conversations",
]

REFRESH_SECONDS = 3.0
TABLE_HEADERS = [
    "Status",
    "ID",
    "Last message",
    "Turns",
    "Intent",
    "Sentiment",
    "Updated",
]
_STATUS_LABELS = {
    "waiting_for_agent": "WAITING for agent",
    "agent": "with agent",
    "bot": "bot",
    "closed": "closed",
}
_ROLE_LABELS = {"customer": "Customer", "bot": "Bot", "agent": "Agent"}
_PREVIEW_CHARS = 60


@runtime_checkable
class ConsoleBackend(Protocol):
    """What the console needs from the service (implemented by the service's store)."""

    def list_conversations(self, limit: int = 100) -> list[dict[str, Any]]:
        """Recent conversations: conversation_id, status, created_at, updated_at,
        last_message, turns, last_intent, last_sentiment."""
        ...

    def get_conversation(self, conversation_id: str) -> dict[str, Any] | None:
        """The ``GET /v1/conversations/{id}`` shape, or None when unknown."""
        ...


# --------------------------------------------------------------------------- pure helpers

_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+!|~>-])")


def escape_markdown(text: object) -> str:
    """Make arbitrary text inert in Markdown: HTML is escaped, Markdown syntax backslashed."""
    escaped = html.escape(str(text), quote=False)
    return _MD_SPECIAL.sub(r"\\\1", escaped)


def _parse_time(value: object) -> datetime | None:
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, str) and value:
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    else:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _format_time(value: object, fmt: str = "%Y-%m-%d %H:%M:%S") -> str:
    parsed = _parse_time(value)
    if parsed is None:
        return str(value or "")
    return parsed.astimezone(UTC).strftime(fmt)


def _short_id(conversation_id: str) -> str:
    return conversation_id if len(conversation_id) <= 12 else conversation_id[:8] + "…"


def _sort_key(conv: Mapping[str, Any]) -> tuple[int, float]:
    waiting = 0 if conv.get("status") == "waiting_for_agent" else 1
    when = _parse_time(conv.get("updated_at")) or _parse_time(conv.get("created_at"))
    return waiting, -(when.timestamp() if when else 0.0)


def sort_conversations(convs: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """Conversations waiting for an agent first, then the most recently updated."""
    return sorted(convs, key=_sort_key)


def _label(value: object, key: str) -> str:
    """A name from either a plain string or a ``{"name"|"label": ...}`` dict."""
    if isinstance(value, Mapping):
        return str(value.get(key) or "")
    return "" if value is None else str(value)


def _one_line(text: object, limit: int = _PREVIEW_CHARS) -> str:
    flat = " ".join(str(text or "").split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def conversation_table(
    convs: Sequence[Mapping[str, Any]],
) -> tuple[list[list[Any]], list[str]]:
    """Table rows (plain-text cells, :data:`TABLE_HEADERS` order, sorted for triage) and the
    full conversation id of each row (the table shows a shortened id)."""
    rows: list[list[Any]] = []
    ids: list[str] = []
    for conv in sort_conversations(convs):
        status = str(conv.get("status") or "")
        conversation_id = str(conv.get("conversation_id") or "")
        ids.append(conversation_id)
        rows.append(
            [
                _STATUS_LABELS.get(status, status),
                _short_id(conversation_id),
                _one_line(conv.get("last_message")),
                int(conv.get("turns") or 0),
                _label(conv.get("last_intent"), "name"),
                _label(conv.get("last_sentiment"), "label"),
                _format_time(conv.get("updated_at") or conv.get("created_at"), "%b %d %H:%M"),
            ]
        )
    return rows, ids


def conversation_rows(convs: Sequence[Mapping[str, Any]]) -> list[list[Any]]:
    """Just the rows of :func:`conversation_table`."""
    return conversation_table(convs)[0]


def _score(value: object) -> str:
    return f"{value:.2f}" if isinstance(value, int | float) else ""


def _customer_details(msg: Mapping[str, Any]) -> list[str]:
    parts: list[str] = []
    intent = msg.get("intent")
    confidence = msg.get("confidence")
    if isinstance(intent, Mapping):
        confidence = intent.get("confidence", confidence)
    if intent:
        name = escape_markdown(_label(intent, "name"))
        conf = _score(confidence)
        parts.append(f"intent **{name}**" + (f" ({conf})" if conf else ""))
    sentiment = msg.get("sentiment")
    score = msg.get("sentiment_score")
    if isinstance(sentiment, Mapping):
        score = sentiment.get("score", score)
    if sentiment:
        label = escape_markdown(_label(sentiment, "label"))
        sc = _score(score)
        parts.append(f"sentiment **{label}**" + (f" ({sc})" if sc else ""))
    return parts


def _bot_details(msg: Mapping[str, Any]) -> list[str]:
    parts: list[str] = []
    if msg.get("action"):
        parts.append(f"action **{escape_markdown(msg['action'])}**")
    if msg.get("reason"):
        parts.append(f"reason: {escape_markdown(msg['reason'])}")
    sources = msg.get("sources") or []
    if isinstance(sources, Sequence) and sources:
        shown = []
        for src in list(sources)[:5]:
            if isinstance(src, Mapping):
                sc = _score(src.get("score"))
                shown.append(f"#{escape_markdown(src.get('id'))}" + (f" ({sc})" if sc else ""))
            else:
                shown.append(f"#{escape_markdown(src)}")
        parts.append("sources " + ", ".join(shown))
    return parts


def conversation_markdown(conv: Mapping[str, Any] | None) -> str:
    """One conversation as Markdown: every message with its analysis. Message text is escaped."""
    if not conv:
        return "_Select a conversation in the table to see its messages._"
    status = str(conv.get("status") or "")
    lines = [
        f"### Conversation {escape_markdown(conv.get('conversation_id', ''))}",
        f"Status: **{escape_markdown(_STATUS_LABELS.get(status, status))}** · "
        f"started {escape_markdown(_format_time(conv.get('created_at')))}",
        "",
    ]
    messages = conv.get("messages") or []
    if not messages:
        lines.append("_No messages yet._")
    for msg in messages:
        role = str(msg.get("role") or "")
        who = _ROLE_LABELS.get(role, role.title() or "Unknown")
        if role == "agent" and msg.get("author"):
            who += f" ({escape_markdown(msg['author'])})"
        when = escape_markdown(_format_time(msg.get("created_at")))
        lines.append(f"**{who}** · {when}")
        text_lines = [escape_markdown(line) for line in str(msg.get("text") or "").splitlines()]
        lines.append("  \n".join(f"> {line}" for line in text_lines or ["_(empty)_"]))
        details = _customer_details(msg) if role == "customer" else []
        if role == "bot":
            details = _bot_details(msg)
        if details:
            lines.append("")
            lines.append("<sub>" + " · ".join(details) + "</sub>")
        lines.append("")
    return "\n".join(lines)


# --------------------------------------------------------------------------- the Gradio app

CONSOLE_CSS = """
#csa-console-title h1 { margin-bottom: 0; }
#csa-conversation { min-height: 320px; }
"""


def build_console(backend: ConsoleBackend) -> gradio.Blocks:
    """The agent console: live conversation list (auto-refreshing) and a conversation view."""
    import gradio as gr

    def load_view(conversation_id: str | None) -> str:
        if not conversation_id:
            return conversation_markdown(None)
        conv = backend.get_conversation(conversation_id)
        if conv is None:
            return f"_Conversation {escape_markdown(conversation_id)} not found._"
        return conversation_markdown(conv)

    def refresh(conversation_id: str | None) -> tuple[list[list[Any]], list[str], str]:
        rows, ids = conversation_table(backend.list_conversations(limit=100))
        return rows, ids, load_view(conversation_id)

    def on_select(ids: list[str], evt: gr.SelectData) -> tuple[str, str]:
        index = evt.index[0] if isinstance(evt.index, list | tuple) else evt.index
        conversation_id = ids[index] if isinstance(index, int) and 0 <= index < len(ids) else ""
        return conversation_id, load_view(conversation_id)

    # Gradio finds the SelectData parameter through typing.get_type_hints, which cannot
    # resolve the postponed (string) annotation of a locally imported name.
    on_select.__annotations__["evt"] = gr.SelectData

    with gr.Blocks(title="Agent console · cs-assistant", fill_width=True) as console:
        gr.Markdown("# Agent console", elem_id="csa-console-title")
        gr.Markdown(
            "Live conversations: those waiting for an agent come first. "
            f"The list refreshes every {REFRESH_SECONDS:g} s; click a row to open it."
        )
        selected = gr.State("")  # full id of the conversation shown on the right
        row_ids = gr.State([])  # full ids of the table's rows, in order
        with gr.Row():
            with gr.Column(scale=3):
                table = gr.Dataframe(
                    value=[],
                    headers=TABLE_HEADERS,
                    datatype="str",
                    type="array",
                    interactive=False,
                    wrap=True,
                    column_widths=["14%", "11%", "30%", "8%", "14%", "12%", "11%"],
                    label="Conversations",
                    max_height=600,
                )
                refresh_btn = gr.Button("Refresh now", size="sm", variant="secondary")
            with gr.Column(scale=2):
                view = gr.Markdown(conversation_markdown(None), elem_id="csa-conversation")
        timer = gr.Timer(REFRESH_SECONDS)

        outputs = [table, row_ids, view]
        console.load(refresh, inputs=selected, outputs=outputs)
        timer.tick(refresh, inputs=selected, outputs=outputs, show_progress="hidden")
        refresh_btn.click(refresh, inputs=selected, outputs=outputs)
        table.select(on_select, inputs=row_ids, outputs=[selected, view])
    return console
