"""The default generator: fill the retrieved answer's placeholders, no model needed.

Both ``{slot}`` and Bitext's ``{{Slot Name}}`` are filled from the conversation's
slots and the company facts. A value we do not have is never invented: a missing
customer value turns into a question, a missing company fact skips that candidate.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from .base import Reply, ReplyRequest

PLACEHOLDER = re.compile(r"\{\{\s*([^{}]+?)\s*\}\}|\{\s*([A-Za-z_][\w ]*?)\s*\}")
CUSTOMER_SLOTS = ("order_number", "email", "phone")
APOLOGY = re.compile(
    r"\s*(?:(?:i'm|i am|we're|we are)\s+)?(?:(?:so|very|really|truly)\s+)?sorry", re.I
)
SLOT_QUESTIONS = {
    "order_number": "Could you tell me your order number? It's in your confirmation email.",
    "email": "Could you tell me the email address on your account?",
    "phone": "Could you tell me the phone number we can reach you on?",
}
# Bitext-style names that mean one of our slots.
ALIASES = {
    "order_id": "order_number",
    "order_no": "order_number",
    "email_address": "email",
    "customer_email": "email",
    "phone_number": "phone",
    "customer_support_phone_number": "support_phone",
    "customer_support_hours": "support_hours",
    "customer_support_email": "support_email",
    "website_url": "website_url",
    "company_name": "company_name",
}


def slot_key(raw: str) -> str:
    """``{{Order Number}}`` and ``{order_number}`` both name ``order_number``."""
    key = re.sub(r"[^a-z0-9]+", "_", raw.strip().lower()).strip("_")
    return ALIASES.get(key, key)


def placeholders(text: str) -> list[str]:
    return [slot_key(a or b) for a, b in PLACEHOLDER.findall(text)]


def fill(text: str, values: Mapping[str, str]) -> tuple[str, list[str]]:
    """`text` with every placeholder we have a value for filled, and the missing keys."""
    missing: list[str] = []

    def sub(m: re.Match[str]) -> str:
        key = slot_key(m.group(1) or m.group(2))
        if key in values and values[key]:
            return str(values[key])
        missing.append(key)
        return m.group(0)

    return PLACEHOLDER.sub(sub, text), missing


class TemplateGenerator:
    """Slot-filled templates, with an acknowledgement when the customer is upset."""

    name = "template"

    def __init__(self, facts: Mapping[str, str], intent_titles: Mapping[str, str]) -> None:
        self.facts = dict(facts)
        self.titles = dict(intent_titles)

    def _values(self, slots: Mapping[str, str]) -> dict[str, str]:
        return {**self.facts, **{k: v for k, v in slots.items() if not k.startswith("_")}}

    def _opening(self, request: ReplyRequest, text: str = "") -> str:
        """An apology when the customer is upset, unless the reply already opens with one."""
        if not request.decision.strongly_negative or APOLOGY.match(text):
            return ""
        return "I'm sorry about the trouble. "

    def compose(self, request: ReplyRequest) -> Reply:
        d = request.decision
        if d.action == "handoff":
            return self._handoff(request)
        if d.action == "clarify":
            return Reply(self._opening(request) + self.clarify_text(request), [])
        values = self._values(request.slots)
        asked: str | None = None
        for cand in request.candidates:
            text, missing = fill(cand.answer, values)
            if not missing:
                return Reply(self._opening(request, text) + text, [cand.id])
            customer = [m for m in missing if m in CUSTOMER_SLOTS]
            if customer and asked is None:
                asked = customer[0]
        if asked is not None:
            q = SLOT_QUESTIONS[asked]
            return Reply(
                self._opening(request) + q, [], note=f"slot {asked} missing", ask_slot=asked
            )
        return self._handoff(request, note="no candidate could be filled")

    def clarify_text(self, request: ReplyRequest) -> str:
        d = request.decision
        if d.ask_slot:
            lead = "Sure, I can help with that. " if not d.strongly_negative else ""
            return lead + SLOT_QUESTIONS.get(d.ask_slot, f"Could you tell me your {d.ask_slot}?")
        if d.options:
            titles = [self.titles.get(o, o.replace("_", " ")) for o in d.options]
            if len(titles) == 1:
                return f"Just to be sure: do you want help to {titles[0].lower()}?"
            return (
                "Just to be sure, which of these do you need: "
                + " or ".join(f"“{t}”" for t in titles)
                + "?"
            )
        return (
            "Sorry, I'm not sure I understood. I can help with orders, deliveries, returns, "
            "refunds, payments and your account. Could you put it another way?"
        )

    def quick_replies(self, request: ReplyRequest) -> list[str]:
        d = request.decision
        if d.action != "clarify" or d.ask_slot:
            return []
        if d.options:
            return [self.titles.get(o, o.replace("_", " ")) for o in d.options]
        return [
            self.titles[k]
            for k in ("order_status", "return_item", "talk_to_human")
            if k in self.titles
        ]

    def _handoff(self, request: ReplyRequest, note: str | None = None) -> Reply:
        hours = self.facts.get("support_hours")
        when = f" Our team is available {hours}." if hours else ""
        text = (
            self._opening(request)
            + "I'm passing you to a member of our support team; they'll reply here shortly."
            + when
        )
        return Reply(text, [], note=note)


def has_placeholder(text: str) -> bool:
    """True when a raw placeholder would reach the customer (used by tests and benches)."""
    return bool(PLACEHOLDER.search(text))
