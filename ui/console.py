"""The agent console: a Gradio app over a :class:`ConsoleBackend`.

Only presentation lives here: every decision (who may do what, what is stored, what is
indexed) is the backend's (``assistant.console_service.ConsoleService``). The functions that
turn backend dicts into table rows, markdown and plot data are pure (no Gradio) so they can be
tested directly; ``gradio`` and ``pandas`` are imported inside :func:`build_console` so that
``import ui`` stays fast.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    import gradio

__all__ = [
    "REFRESH_SECONDS",
    "SENTIMENTS",
    "TABLE_HEADERS",
    "ConsoleBackend",
    "activity_markdown",
    "analytics_summary",
    "analytics_tables",
    "build_console",
    "conversation_markdown",
    "conversation_rows",
    "conversation_table",
    "escape_markdown",
    "next_draft",
    "sort_conversations",
    "turn_choices",
]

REFRESH_SECONDS = 3.0
QUEUE_LIMIT = 100
SENTIMENTS = ("negative", "neutral", "positive")
TABLE_HEADERS = [
    "Status",
    "ID",
    "Last message",
    "Turns",
    "Intent",
    "Sentiment",
    "Agent",
    "Updated",
]
_STATUS_LABELS = {
    "waiting_for_agent": "WAITING",
    "agent": "with agent",
    "bot": "bot",
    "closed": "closed",
}
# queue groups: who needs attention first
_STATUS_RANK = {"waiting_for_agent": 0, "agent": 1, "bot": 2, "closed": 3}
_NEEDS_AGENT = {"waiting_for_agent", "agent"}
_ROLE_LABELS = {"customer": "Customer", "bot": "Bot", "agent": "Agent"}
_PREVIEW_CHARS = 60
_ACTION_LABELS = {
    "take_over": "took over",
    "hand_back": "handed back to the bot",
    "close": "closed the conversation",
    "send": "replied",
    "correct_intent": "corrected the intent",
    "correct_sentiment": "corrected the sentiment",
    "approve_answer": "approved an answer into the knowledge base",
}


@runtime_checkable
class ConsoleBackend(Protocol):
    """What the console needs from the service (``assistant.console_service.ConsoleService``).

    Actions take the logged-in agent's name and raise ``ValueError``/``LookupError`` with a
    message for the agent when they cannot be done.
    """

    def authenticate(self, username: str, password: str) -> bool:
        """True for an agent's correct password (the console's login)."""
        ...

    def list_conversations(self, limit: int = 100) -> list[dict[str, Any]]:
        """Recent conversations: conversation_id, status, created_at, updated_at,
        last_message, turns, last_intent, last_sentiment, last_sentiment_score,
        assigned_agent."""
        ...

    def get_conversation(self, conversation_id: str) -> dict[str, Any] | None:
        """The ``GET /v1/conversations/{id}`` shape plus ``suggestion`` (the bot's draft for
        the latest unanswered customer turn), per customer turn ``corrected``
        ({task: {label, author}}), and ``approved_turns`` (agent turns in the knowledge
        base); None when unknown."""
        ...

    def intents(self) -> list[str]:
        """Known intent names (catalog, classifier, agents' new ones)."""
        ...

    def actions(self, conversation_id: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
        """The audit log, oldest first: agent, action, conversation_id, turn_id, created_at."""
        ...

    def analytics(self, days: int | None = 30) -> dict[str, Any]:
        """``assistant.analytics.overview``: per_day, deflection, handoffs, intents,
        sentiment, low_confidence."""
        ...

    def take_over(self, conversation_id: str, agent: str) -> None: ...

    def hand_back(self, conversation_id: str, agent: str) -> None: ...

    def close(self, conversation_id: str, agent: str) -> None: ...

    def send(self, conversation_id: str, agent: str, text: str) -> int:
        """Send an agent reply; returns its turn id."""
        ...

    def correct_intent(self, turn_id: int, agent: str, intent: str) -> str:
        """Label a customer turn's intent (known or new name); returns the stored name."""
        ...

    def correct_sentiment(self, turn_id: int, agent: str, sentiment: str) -> None: ...

    def approve_answer(self, turn_id: int, agent: str) -> int:
        """Put an agent turn into the knowledge base (indexed at once); returns the pair id."""
        ...


# --------------------------------------------------------------------------- pure helpers

# Every ASCII punctuation mark becomes a numeric character reference: Markdown sees no
# syntax (lists "3.", setext "===", emphasis, links, autolinked "https:", "$$" math) and
# the browser still shows the character. Backslash escapes are not enough: autolinks and
# some block rules read the raw text.
_MD_ENTITIES = {ord(c): f"&#{ord(c)};" for c in "\\`*_{}[]()#+-.!|~=$:\"'/%^?;,@"} | {
    ord("&"): "&amp;",
    ord("<"): "&lt;",
    ord(">"): "&gt;",
}


def escape_markdown(text: object) -> str:
    """Make arbitrary text inert in Markdown: HTML and every punctuation mark become
    character references, so the text shows exactly as written."""
    return str(text).translate(_MD_ENTITIES)


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


def _label(value: object, key: str) -> str:
    """A name from either a plain string or a ``{"name"|"label": ...}`` dict."""
    if isinstance(value, Mapping):
        return str(value.get(key) or "")
    return "" if value is None else str(value)


def _sort_key(conv: Mapping[str, Any]) -> tuple[int, int, float]:
    status = str(conv.get("status") or "")
    negative = 0 if _label(conv.get("last_sentiment"), "label") == "negative" else 1
    when = _parse_time(conv.get("updated_at")) or _parse_time(conv.get("created_at"))
    stamp = when.timestamp() if when else 0.0
    # needing an agent: the longest wait first; otherwise the most recent activity first
    age = stamp if status in _NEEDS_AGENT else -stamp
    return _STATUS_RANK.get(status, 2), negative, age


def sort_conversations(convs: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The queue's order: waiting for an agent, then with an agent, then with the bot, then
    closed; within each, negative sentiment first; then by age: the longest wait first among
    those that need an agent, the most recent first among the rest."""
    return sorted(convs, key=_sort_key)


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
                str(conv.get("assigned_agent") or ""),
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
    corrected = msg.get("corrected") or {}
    if isinstance(corrected, Mapping):
        for task, what in (("intents", "intent"), ("sentiment", "sentiment")):
            fix = corrected.get(task)
            if isinstance(fix, Mapping) and fix.get("label"):
                parts.append(
                    f"✔ {what} corrected to **{escape_markdown(fix['label'])}** "
                    f"by {escape_markdown(fix.get('author') or '?')}"
                )
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
        return "_Select a conversation in the queue to see its messages._"
    status = str(conv.get("status") or "")
    header = (
        f"Status: **{escape_markdown(_STATUS_LABELS.get(status, status))}**"
        + (
            f" · agent **{escape_markdown(conv['assigned_agent'])}**"
            if conv.get("assigned_agent")
            else ""
        )
        + f" · started {escape_markdown(_format_time(conv.get('created_at')))}"
    )
    lines = [f"### Conversation {escape_markdown(conv.get('conversation_id', ''))}", header, ""]
    approved = set(conv.get("approved_turns") or [])
    messages = conv.get("messages") or []
    if not messages:
        lines.append("_No messages yet._")
    for msg in messages:
        role = str(msg.get("role") or "")
        who = _ROLE_LABELS.get(role, role.title() or "Unknown")
        if role == "agent" and msg.get("author"):
            who += f" ({escape_markdown(msg['author'])})"
        when = escape_markdown(_format_time(msg.get("created_at")))
        turn = f" · \\#{escape_markdown(msg['id'])}" if msg.get("id") is not None else ""
        lines.append(f"**{who}** · {when}{turn}")
        text_lines = [escape_markdown(line) for line in str(msg.get("text") or "").splitlines()]
        lines.append("  \n".join(f"> {line}" for line in text_lines or ["_(empty)_"]))
        details = _customer_details(msg) if role == "customer" else []
        if role == "bot":
            details = _bot_details(msg)
        if role == "agent" and msg.get("id") in approved:
            details = ["✔ in the knowledge base"]
        if details:
            lines.append("")
            lines.append("<sub>" + " · ".join(details) + "</sub>")
        lines.append("")
    return "\n".join(lines)


def activity_markdown(actions: Sequence[Mapping[str, Any]]) -> str:
    """The audit rows of one conversation, newest last, as a compact list."""
    if not actions:
        return ""
    lines = ["**Activity**", ""]
    for a in actions:
        what = _ACTION_LABELS.get(str(a.get("action")), str(a.get("action") or ""))
        details = a.get("details") or {}
        extra = ""
        if isinstance(details, Mapping) and details.get("label"):
            extra = f": {escape_markdown(details['label'])}"
        turn = f" (\\#{escape_markdown(a['turn_id'])})" if a.get("turn_id") is not None else ""
        lines.append(
            f"- {escape_markdown(_format_time(a.get('created_at'), '%b %d %H:%M'))} · "
            f"**{escape_markdown(a.get('agent') or '?')}** {escape_markdown(what)}{extra}{turn}"
        )
    return "\n".join(lines)


def turn_choices(
    conv: Mapping[str, Any] | None,
) -> tuple[list[tuple[str, int]], list[tuple[str, int]]]:
    """Dropdown choices ``(label, turn id)``, newest first: customer turns (to correct) and
    agent turns (to approve into the knowledge base)."""
    customer: list[tuple[str, int]] = []
    agent: list[tuple[str, int]] = []
    for msg in (conv or {}).get("messages") or []:
        if msg.get("id") is None:
            continue
        label = f"#{msg['id']} · {_one_line(msg.get('text'), 50)}"
        if msg.get("role") == "customer":
            customer.append((f"{label} [{_label(msg.get('intent'), 'name') or '?'}]", msg["id"]))
        elif msg.get("role") == "agent":
            agent.append((label, msg["id"]))
    return customer[::-1], agent[::-1]


def next_draft(current: str, previous_suggestion: str, suggestion: str) -> str:
    """The reply box after a refresh: a new bot suggestion replaces the box only if the agent
    has not typed anything of their own (empty, or still the previous suggestion)."""
    if suggestion == previous_suggestion:
        return current
    if not current.strip() or current == previous_suggestion:
        return suggestion
    return current


def _pct(value: object) -> str:
    return f"{value:.0%}" if isinstance(value, int | float) else "–"


def analytics_summary(data: Mapping[str, Any]) -> str:
    """Headline numbers as Markdown."""
    per_day = data.get("per_day") or []
    total = sum(int(d.get("conversations") or 0) for d in per_day)
    defl = data.get("deflection") or {}
    hand = data.get("handoffs") or {}
    since = _format_time(data.get("since"), "%b %d %Y") if data.get("since") else "all time"
    return (
        f"**{total}** conversations since {escape_markdown(since)} · "
        f"deflection **{_pct(defl.get('deflection_rate'))}** "
        f"({int(defl.get('closed_without_agent') or 0)} of {int(defl.get('closed') or 0)} "
        f"closed without an agent) · handoff rate **{_pct(hand.get('handoff_rate'))}** "
        f"({int(hand.get('handed_off') or 0)} of {int(hand.get('conversations') or 0)})"
    )


#: plot name -> (key in the analytics data, columns)
ANALYTICS_TABLES: dict[str, tuple[str, tuple[str, ...]]] = {
    "per_day": ("per_day", ("day", "conversations")),
    "reasons": ("handoffs.reasons", ("reason", "count")),
    "intents": ("intents", ("intent", "turns")),
    "sentiment": ("sentiment", ("day", "sentiment", "turns")),
    "low_confidence": ("low_confidence", ("intent", "mean_confidence", "turns")),
}


def analytics_tables(data: Mapping[str, Any]) -> dict[str, tuple[list[str], list[list[Any]]]]:
    """Each plot's data as (columns, rows), ready for a DataFrame."""
    out: dict[str, tuple[list[str], list[list[Any]]]] = {}
    for name, (path, columns) in ANALYTICS_TABLES.items():
        node: Any = data
        for part in path.split("."):
            node = node.get(part) if isinstance(node, Mapping) else None
        rows = [[row.get(c) for c in columns] for row in node or [] if isinstance(row, Mapping)]
        out[name] = (list(columns), rows)
    return out


# --------------------------------------------------------------------------- the Gradio app

CONSOLE_CSS = """
#csa-console-title h1 { margin-bottom: 0; }
#csa-conversation { min-height: 320px; max-height: 640px; overflow-y: auto; }
#csa-notice p { margin: 0; }
#csa-whoami { text-align: right; }
#csa-queue [role=gridcell], #csa-queue th, #csa-queue td {
  font-family: var(--font); font-size: var(--text-md);
}
"""

_ANALYTICS_DAYS = {"Last 7 days": 7, "Last 30 days": 30, "Last 90 days": 90, "All time": None}


def _needs(fn: Callable[..., Any], **hints: Any) -> Callable[..., Any]:
    """Give a local function the real classes Gradio looks for in its annotations
    (``gr.Request``, ``gr.SelectData``): postponed annotations of locally imported names
    cannot be resolved by ``typing.get_type_hints``."""
    fn.__annotations__.update(hints)
    return fn


def build_console(backend: ConsoleBackend) -> gradio.Blocks:
    """The agent console: live queue, conversation view with actions, teaching, analytics."""
    import gradio as gr
    import pandas as pd

    def agent_of(request: gr.Request | None) -> str:
        return str(getattr(request, "username", None) or "")

    def load_conv(conversation_id: str) -> Mapping[str, Any] | None:
        return backend.get_conversation(conversation_id) if conversation_id else None

    def view_of(conversation_id: str, conv: Mapping[str, Any] | None) -> str:
        if conversation_id and conv is None:
            return f"_Conversation {escape_markdown(conversation_id)} not found._"
        md = conversation_markdown(conv)
        if conv:
            activity = activity_markdown(backend.actions(conversation_id))
            if activity:
                md += "\n\n---\n\n" + activity
        return md

    def _choices(choices: list[tuple[str, int]]) -> Any:
        """New choices, the newest selected."""
        return gr.update(choices=choices, value=choices[0][1] if choices else None)

    def choices_updates(conv: Mapping[str, Any] | None) -> tuple[Any, Any]:
        customer, agent = turn_choices(conv)
        return _choices(customer), _choices(agent)

    def refresh(
        conversation_id: str, draft: str, suggested: str, last: dict[str, Any]
    ) -> tuple[Any, ...]:
        """The queue and the open conversation; unchanged parts are skipped (no flicker)."""
        rows, ids = conversation_table(backend.list_conversations(limit=QUEUE_LIMIT))
        conv = load_conv(conversation_id)
        view = view_of(conversation_id, conv)
        suggestion = str((conv or {}).get("suggestion") or "")
        customer, agent = turn_choices(conv)
        new = {"rows": rows, "view": view, "customer": customer, "agent": agent}
        same = {k: last.get(k) == v for k, v in new.items()}
        draft_now = next_draft(draft or "", suggested or "", suggestion)
        return (
            gr.skip() if same["rows"] else rows,
            ids,
            gr.skip() if same["view"] else view,
            gr.skip() if same["customer"] else _choices(customer),
            gr.skip() if same["agent"] else _choices(agent),
            gr.skip() if draft_now == draft else draft_now,
            suggestion,
            new,
        )

    def open_conversation(conversation_id: str) -> tuple[Any, ...]:
        conv = load_conv(conversation_id)
        suggestion = str((conv or {}).get("suggestion") or "")
        customer_update, agent_update = choices_updates(conv)
        return (
            conversation_id,
            view_of(conversation_id, conv),
            customer_update,
            agent_update,
            suggestion,
            suggestion,
            "",
        )

    def on_select(ids: list[str], evt: gr.SelectData) -> tuple[Any, ...]:
        index = evt.index[0] if isinstance(evt.index, list | tuple) else evt.index
        conversation_id = ids[index] if isinstance(index, int) and 0 <= index < len(ids) else ""
        return open_conversation(conversation_id)

    def act(request: gr.Request | None, action: Callable[[str], str]) -> str:
        """Run an action as the logged-in agent; errors become a notice for the agent."""
        agent = agent_of(request)
        if not agent:
            return "⚠ Log in to act on conversations."
        try:
            return "✔ " + action(agent)
        except (ValueError, LookupError) as e:
            return f"⚠ {escape_markdown(e)}"

    def take_over(cid: str, request: gr.Request) -> str:
        def do(agent: str) -> str:
            backend.take_over(_need(cid), agent)
            return "You have the conversation: the bot only drafts replies now."

        return act(request, do)

    def hand_back(cid: str, request: gr.Request) -> str:
        def do(agent: str) -> str:
            backend.hand_back(_need(cid), agent)
            return "Handed back: the bot answers again."

        return act(request, do)

    def close(cid: str, request: gr.Request) -> str:
        def do(agent: str) -> str:
            backend.close(_need(cid), agent)
            return "Conversation closed."

        return act(request, do)

    def send(cid: str, text: str, request: gr.Request) -> str:
        def do(agent: str) -> str:
            turn_id = backend.send(_need(cid), agent, text or "")
            return f"Reply sent (turn \\#{turn_id})."

        return act(request, do)

    def fix_intent(turn_id: int | None, name: str | None, request: gr.Request) -> str:
        def do(agent: str) -> str:
            stored = backend.correct_intent(_turn(turn_id), agent, name or "")
            return (
                f"Intent of \\#{turn_id} corrected to **{escape_markdown(stored)}** "
                "(saved for retraining)."
            )

        return act(request, do)

    def fix_sentiment(turn_id: int | None, label: str | None, request: gr.Request) -> str:
        def do(agent: str) -> str:
            backend.correct_sentiment(_turn(turn_id), agent, label or "")
            return f"Sentiment of \\#{turn_id} corrected to **{escape_markdown(label)}**."

        return act(request, do)

    def approve(turn_id: int | None, request: gr.Request) -> str:
        def do(agent: str) -> str:
            pair_id = backend.approve_answer(_turn(turn_id), agent)
            return f"Answer \\#{turn_id} is in the knowledge base (pair {pair_id}), indexed now."

        return act(request, do)

    def whoami(request: gr.Request) -> str:
        agent = agent_of(request)
        if not agent:
            return "_not signed in_"
        return f"Signed in as **{escape_markdown(agent)}** · [Log out](logout)"

    def intent_choices() -> Any:
        return gr.update(choices=backend.intents())

    def load_analytics(period: str) -> tuple[Any, ...]:
        data = backend.analytics(days=_ANALYTICS_DAYS.get(period, 30))
        frames = {
            name: pd.DataFrame(rows, columns=columns)
            for name, (columns, rows) in analytics_tables(data).items()
        }
        return (
            analytics_summary(data),
            frames["per_day"],
            frames["reasons"],
            frames["intents"],
            frames["sentiment"],
            frames["low_confidence"],
        )

    with gr.Blocks(title="Agent console · cs-assistant", fill_width=True) as console:
        with gr.Row(equal_height=True):
            gr.Markdown("# Agent console", elem_id="csa-console-title")
            who = gr.Markdown("", elem_id="csa-whoami")
        selected = gr.State("")  # full id of the open conversation
        row_ids = gr.State([])  # full ids of the table's rows, in order
        suggested = gr.State("")  # the bot suggestion last put in the reply box
        last = gr.State({})  # what the last refresh showed (to skip unchanged outputs)

        with gr.Tab("Conversations"):
            gr.Markdown(
                "Waiting for an agent first, then negative sentiment, then the longest wait. "
                f"Refreshes every {REFRESH_SECONDS:g} s; click a row to open it.",
            )
            with gr.Row():
                with gr.Column(scale=5):
                    table = gr.Dataframe(
                        value=[],
                        headers=TABLE_HEADERS,
                        datatype="str",
                        type="array",
                        interactive=False,
                        wrap=True,
                        column_widths=["11%", "10%", "28%", "6%", "15%", "11%", "8%", "11%"],
                        label="Queue",
                        max_height=640,
                        elem_id="csa-queue",
                    )
                    refresh_btn = gr.Button("Refresh now", size="sm", variant="secondary")
                with gr.Column(scale=4):
                    view = gr.Markdown(
                        conversation_markdown(None),
                        elem_id="csa-conversation",
                        latex_delimiters=[],  # customers' "$$" is text, not math
                    )
                    notice = gr.Markdown("", elem_id="csa-notice")
                    with gr.Row():
                        take_btn = gr.Button("Take over", variant="primary", elem_id="csa-take")
                        back_btn = gr.Button("Hand back to the bot", elem_id="csa-back")
                        close_btn = gr.Button("Close", variant="stop", elem_id="csa-close")
                    draft = gr.Textbox(
                        label="Reply (the bot's suggestion when it has one; edit freely)",
                        lines=3,
                        max_lines=10,
                        elem_id="csa-draft",
                    )
                    send_btn = gr.Button("Send", variant="primary", elem_id="csa-send")
                    with gr.Accordion("Teach the bot", open=False, elem_id="csa-teach"):
                        customer_turn = gr.Dropdown(
                            label="Customer message", choices=[], elem_id="csa-turn"
                        )
                        with gr.Row(equal_height=True):
                            intent = gr.Dropdown(
                                label="Right intent (pick one, or type a new name)",
                                choices=[],
                                allow_custom_value=True,
                                elem_id="csa-intent",
                                scale=3,
                            )
                            sentiment = gr.Radio(
                                list(SENTIMENTS),
                                label="Right sentiment",
                                elem_id="csa-sentiment",
                                scale=2,
                            )
                        with gr.Row():
                            intent_btn = gr.Button("Save intent", size="sm")
                            sentiment_btn = gr.Button("Save sentiment", size="sm")
                        agent_turn = gr.Dropdown(
                            label="Agent answer to add to the knowledge base",
                            choices=[],
                            elem_id="csa-answer",
                        )
                        approve_btn = gr.Button("Approve into the knowledge base", size="sm")

        with gr.Tab("Analytics") as analytics_tab:
            with gr.Row():
                period = gr.Dropdown(
                    list(_ANALYTICS_DAYS), value="Last 30 days", label="Period", scale=1
                )
                analytics_btn = gr.Button("Refresh", size="sm", scale=0)
            summary = gr.Markdown("")
            with gr.Row():
                per_day_plot = gr.BarPlot(
                    x="day",
                    y="conversations",
                    title="Conversations per day",
                    y_lim=[0, None],
                    height=260,
                )
                sentiment_plot = gr.BarPlot(
                    x="day",
                    y="turns",
                    color="sentiment",
                    title="Customer sentiment per day",
                    y_lim=[0, None],
                    color_map={"negative": "#c0392b", "neutral": "#7f8c8d", "positive": "#27ae60"},
                    height=260,
                )
            with gr.Row():
                intents_plot = gr.BarPlot(
                    x="intent",
                    y="turns",
                    title="Intent volume",
                    x_label_angle=-35,
                    y_lim=[0, None],
                    height=300,
                )
                low_conf_plot = gr.BarPlot(
                    x="intent",
                    y="mean_confidence",
                    title="Lowest mean intent confidence",
                    x_label_angle=-35,
                    y_lim=[0, 1],
                    sort="y",
                    height=300,
                )
            reasons_plot = gr.BarPlot(
                x="reason",
                y="count",
                title="Handoff reasons",
                x_label_angle=-20,
                y_lim=[0, None],
                height=260,
            )

        timer = gr.Timer(REFRESH_SECONDS)

        refresh_inputs = [selected, draft, suggested, last]
        refresh_outputs = [
            table,
            row_ids,
            view,
            customer_turn,
            agent_turn,
            draft,
            suggested,
            last,
        ]
        open_outputs = [selected, view, customer_turn, agent_turn, draft, suggested, notice]
        console.load(refresh, inputs=refresh_inputs, outputs=refresh_outputs)
        console.load(_needs(whoami, request=gr.Request), outputs=who)
        console.load(intent_choices, outputs=intent)
        timer.tick(refresh, refresh_inputs, refresh_outputs, show_progress="hidden")
        refresh_btn.click(refresh, refresh_inputs, refresh_outputs)
        table.select(_needs(on_select, evt=gr.SelectData), inputs=row_ids, outputs=open_outputs)

        def bind(button: Any, handler: Callable[..., str], inputs: list[Any]) -> Any:
            return button.click(
                _needs(handler, request=gr.Request), inputs=inputs, outputs=notice
            ).then(refresh, refresh_inputs, refresh_outputs, show_progress="hidden")

        bind(take_btn, take_over, [selected])
        bind(back_btn, hand_back, [selected])
        bind(close_btn, close, [selected])
        bind(send_btn, send, [selected, draft]).then(
            _clear_after_send, inputs=[notice, draft], outputs=[draft, suggested]
        )
        bind(intent_btn, fix_intent, [customer_turn, intent]).then(intent_choices, outputs=intent)
        bind(sentiment_btn, fix_sentiment, [customer_turn, sentiment])
        bind(approve_btn, approve, [agent_turn])

        analytics_outputs = [
            summary,
            per_day_plot,
            reasons_plot,
            intents_plot,
            sentiment_plot,
            low_conf_plot,
        ]
        analytics_tab.select(load_analytics, inputs=period, outputs=analytics_outputs)
        analytics_btn.click(load_analytics, inputs=period, outputs=analytics_outputs)
        period.change(load_analytics, inputs=period, outputs=analytics_outputs)
    return console


def _need(conversation_id: str) -> str:
    if not conversation_id:
        raise ValueError("open a conversation first")
    return conversation_id


def _clear_after_send(notice: str, draft: str) -> tuple[str, str]:
    """Empty the reply box once the reply went out; keep it when sending failed."""
    return ("", "") if notice.startswith("✔") else (draft, draft)


def _turn(turn_id: object) -> int:
    if turn_id is None or turn_id == "":
        raise ValueError("choose a message first")
    try:
        return int(str(turn_id))
    except ValueError:
        raise ValueError(f"not a message: {turn_id!r}") from None
