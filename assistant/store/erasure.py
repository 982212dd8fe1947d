"""Erasure of a customer's conversations (a data-subject request), in one transaction.

What goes: the conversation, its turns, the agents' labels of those turns, outbox events
whose payload is about it (any status), inbound webhook receipts (they hold the reply) and
links to helpdesk tickets. What stays: the audit log (`agent_actions`, which holds no message
text), plus one new ``erase`` row saying that an erasure happened, by whom and how many rows
went; and knowledge-base pairs agents approved from it (curated content: their ids are
returned, remove them with ``DELETE /v1/admin/kb/{id}`` if they must go too).
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import delete, func, or_, select
from sqlalchemy.orm import Session

from ..redact import EMAIL_HASH_SLOT, email_hash
from .agents import AgentAction
from .integrations import ExternalLink, InboundReceipt, OutboxEvent, rowcount
from .models import Conversation, Label, QAPair, Turn

log = logging.getLogger(__name__)

ERASE_ACTION = "erase"


def erase_conversation(s: Session, conversation_id: str, actor: str) -> dict[str, Any] | None:
    """Delete everything stored about one conversation in the session `s`; None when the
    conversation does not exist. Returns the counts of deleted rows (no content)."""
    conv = s.get(Conversation, conversation_id)
    if conv is None:
        return None
    turn_ids = select(Turn.id).where(Turn.conversation_id == conversation_id)
    derived = s.scalars(
        select(QAPair.id).where(
            QAPair.external_id.in_(
                [f"agent-turn:{i}" for i in s.scalars(turn_ids.where(Turn.role == "agent"))]
            )
        )
    ).all()
    about = OutboxEvent.payload[("data", "conversation_id")].as_string() == conversation_id
    counts = {
        "labels": rowcount(s.execute(delete(Label).where(Label.turn_id.in_(turn_ids)))),
        "turns": rowcount(s.execute(delete(Turn).where(Turn.conversation_id == conversation_id))),
        "outbox_events": rowcount(s.execute(delete(OutboxEvent).where(about))),
        "inbound_receipts": rowcount(
            s.execute(
                delete(InboundReceipt).where(InboundReceipt.conversation_id == conversation_id)
            )
        ),
        "external_links": rowcount(
            s.execute(delete(ExternalLink).where(ExternalLink.conversation_id == conversation_id))
        ),
    }
    s.delete(conv)
    s.flush()
    s.add(
        AgentAction(
            agent=actor[:64],
            action=ERASE_ACTION,
            conversation_id=conversation_id,
            details={"deleted": counts, "kb_pairs_kept": list(derived)},
        )
    )
    log.info("conversation %s erased by %s: %s", conversation_id, actor, counts)
    return {
        "conversation_id": conversation_id,
        "deleted": counts,
        "kb_pairs_kept": list(derived),
    }


def conversations_of_email(s: Session, email: str) -> list[str]:
    """Ids of the conversations whose customer gave `email` (matched by its hash, or by the
    address itself where originals are kept)."""
    email = email.strip().lower()
    by_hash = Conversation.slots[EMAIL_HASH_SLOT].as_string() == email_hash(email)
    by_value = func.lower(Conversation.slots["email"].as_string()) == email
    return list(s.scalars(select(Conversation.id).where(or_(by_hash, by_value))).all())
