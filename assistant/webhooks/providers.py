"""Helpdesk adapters: a provider's "message created" webhook JSON in, its reply shape out.

Each adapter reads only what a turn needs: the provider's conversation (ticket) id, the
message id (for dedupe), who wrote it (customer, agent, bot) and the text. Payloads are
modelled on the products' own webhook JSON:

- **Zendesk**: event webhooks ``zen:event-type:messaging_ticket.message_added``
  (``event.actor.type``, ``event.message.{id,body}``, ticket id in ``detail.id``) and
  ``zen:event-type:ticket.comment_added`` (``event.comment.{id,body,is_public,author.is_staff}``).
  Reply: a ticket update ``{"ticket": {"comment": {"body", "public": true}}}``.
- **Freshdesk**: the conversation object of the v2 API / ``onConversationCreate``
  (``conversation.{id,ticket_id,body_text,incoming,private}``, optionally under ``data``,
  with ``actor.type``) and ``onTicketCreate`` (``ticket.{id,description_text}``).
  Reply: the body of ``POST /api/v2/tickets/{id}/reply``: ``{"body": "<html>"}``.
- **Chatwoot**: ``message_created`` (``id``, ``content``, ``message_type``
  incoming/outgoing/template, ``private``, ``sender.type``, ``conversation.id``,
  ``account.id``). Reply: ``{"content", "message_type": "outgoing", "private": false}``.

The reply is returned in the HTTP response to the webhook; posting it back through the
provider's API (an outbound call) is the alternative and is not implemented here.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

Author = Literal["customer", "agent", "bot"]


@dataclass(frozen=True)
class InboundMessage:
    conversation_id: str  # the provider's conversation or ticket id
    message_id: str
    author: Author
    text: str


class PayloadError(ValueError):
    """The payload is not the provider's message event shape (answered 422)."""


class NotAMessage(Exception):
    """A well-formed event that needs no turn (another event type, a private note)."""


_TAGS = re.compile(r"<[^>]+>")


def _get(payload: Any, path: str, provider: str) -> Any:
    node = payload
    for key in path.split("."):
        if not isinstance(node, Mapping) or node.get(key) is None:
            raise PayloadError(f"{provider} payload: missing {path}")
        node = node[key]
    return node


def _opt(payload: Any, path: str) -> Any:
    node = payload
    for key in path.split("."):
        if not isinstance(node, Mapping):
            return None
        node = node.get(key)
    return node


def _text(value: Any) -> str:
    return html.unescape(_TAGS.sub(" ", str(value or ""))).strip()


# ------------------------------------------------------------------------------ Zendesk
def parse_zendesk(p: Mapping[str, Any]) -> InboundMessage:
    kind = str(_get(p, "type", "zendesk"))
    ticket = _opt(p, "detail.id") or str(_opt(p, "subject") or "").removeprefix("zen:ticket:")
    if not ticket:
        raise PayloadError("zendesk payload: missing detail.id")
    if kind == "zen:event-type:messaging_ticket.message_added":
        actor = str(_opt(p, "event.actor.type") or "")
        author: Author = (
            "customer" if actor == "end_user" else "agent" if actor == "agent" else "bot"
        )
        return InboundMessage(
            str(ticket),
            str(_get(p, "event.message.id", "zendesk")),
            author,
            _text(_opt(p, "event.message.body")),
        )
    if kind == "zen:event-type:ticket.comment_added":
        if _opt(p, "event.comment.is_public") is False:
            raise NotAMessage("private comment")
        staff = bool(_opt(p, "event.comment.author.is_staff"))
        return InboundMessage(
            str(ticket),
            str(_get(p, "event.comment.id", "zendesk")),
            "agent" if staff else "customer",
            _text(_opt(p, "event.comment.body")),
        )
    raise NotAMessage(f"event type {kind}")


def reply_zendesk(text: str) -> dict[str, Any]:
    return {"ticket": {"comment": {"body": text, "public": True}}}


# ---------------------------------------------------------------------------- Freshdesk
def parse_freshdesk(p: Mapping[str, Any]) -> InboundMessage:
    inner = p.get("data")
    data: Mapping[str, Any] = inner if isinstance(inner, Mapping) else p
    actor = str(_opt(data, "actor.type") or "").lower()
    if isinstance(data.get("conversation"), Mapping):
        conv = data["conversation"]
        if conv.get("private"):
            raise NotAMessage("private note")
        incoming = conv.get("incoming")
        author: Author = "customer" if incoming and actor not in ("agent", "system") else "agent"
        if actor == "system":
            author = "bot"
        return InboundMessage(
            str(_get(conv, "ticket_id", "freshdesk conversation")),
            str(_get(conv, "id", "freshdesk conversation")),
            author,
            _text(conv.get("body_text") or conv.get("body")),
        )
    if isinstance(data.get("ticket"), Mapping):  # a new ticket: its description is message 1
        ticket = data["ticket"]
        tid = str(_get(ticket, "id", "freshdesk ticket"))
        text = ticket.get("description_text") or ticket.get("description") or ticket.get("subject")
        return InboundMessage(
            tid, f"ticket-{tid}", "agent" if actor == "agent" else "customer", _text(text)
        )
    raise PayloadError("freshdesk payload: expected a conversation or a ticket object")


def reply_freshdesk(text: str) -> dict[str, Any]:
    return {"body": html.escape(text).replace("\n", "<br>")}


# ----------------------------------------------------------------------------- Chatwoot
def parse_chatwoot(p: Mapping[str, Any]) -> InboundMessage:
    event = str(_get(p, "event", "chatwoot"))
    if event != "message_created":
        raise NotAMessage(f"event {event}")
    if p.get("private"):
        raise NotAMessage("private note")
    kind = str(p.get("message_type") or "")
    sender = str(_opt(p, "sender.type") or "").lower()
    author: Author
    if kind == "incoming" and sender in ("", "contact"):
        author = "customer"
    elif kind == "outgoing" and sender in ("", "user"):
        author = "agent"
    else:  # templates, activity messages, agent bots
        author = "bot"
    account = _opt(p, "account.id")
    conv = str(_get(p, "conversation.id", "chatwoot"))
    return InboundMessage(
        f"{account}:{conv}" if account is not None else conv,
        str(_get(p, "id", "chatwoot")),
        author,
        _text(p.get("content")),
    )


def reply_chatwoot(text: str) -> dict[str, Any]:
    return {"content": text, "message_type": "outgoing", "private": False}


@dataclass(frozen=True)
class Provider:
    name: str
    parse: Callable[[Mapping[str, Any]], InboundMessage]
    reply: Callable[[str], dict[str, Any]]


PROVIDERS: dict[str, Provider] = {
    "zendesk": Provider("zendesk", parse_zendesk, reply_zendesk),
    "freshdesk": Provider("freshdesk", parse_freshdesk, reply_freshdesk),
    "chatwoot": Provider("chatwoot", parse_chatwoot, reply_chatwoot),
}
