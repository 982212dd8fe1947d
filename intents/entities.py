"""Entity extraction: order numbers, emails, phone numbers, amounts and dates.

Pure functions over text (regular expressions), so they are cheap on every turn
and easy to test with tables of cases.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

EMAIL = re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)*\.[a-zA-Z]{2,}\b")
# An order number: an explicit marker (order/#/ORD-) then 4-10 digits, or a bare
# run of 5-8 digits that is not part of a longer number, a phone, a price or a date.
ORDER_MARKED = re.compile(
    r"(?:\border(?:\s*(?:number|no\.?|nr\.?|id|num|#))?\s*(?:is|was|:|=)?\s*#?\s*"
    r"|#\s*|\bORD[-\s]?)"
    r"(?P<num>\d{4,10})\b",
    re.IGNORECASE,
)
ORDER_BARE = re.compile(r"(?<![\d$€£.,/+-])\b(?P<num>\d{5,8})\b(?![.,/-]?\d)")
PHONE = re.compile(r"(?<![\w@+])(?:\+|\(|\d)[\d \t().-]{7,}\d(?![\w@])")
CURRENCIES = {
    "$": "USD",
    "€": "EUR",
    "£": "GBP",
    "usd": "USD",
    "eur": "EUR",
    "gbp": "GBP",
    "dollar": "USD",
    "euro": "EUR",
    "pound": "GBP",
}
AMOUNT = re.compile(
    r"(?:(?P<cur1>[$€£])\s?(?P<v1>\d+(?:[.,]\d{1,2})?))"
    r"|(?:(?P<v2>\d+(?:[.,]\d{1,2})?)\s?(?P<cur2>usd|eur|gbp|dollars?|euros?|pounds?)\b)",
    re.IGNORECASE,
)
DATE = re.compile(
    r"\b(?:\d{4}-\d{2}-\d{2}|\d{1,2}/\d{1,2}/\d{2,4}|"
    r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?\s+\d{1,2}(?:st|nd|rd|th)?"
    r"|\d{1,2}(?:st|nd|rd|th)?\s+(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*)\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Entity:
    """One value found in a message: its kind (a slot name), the value and where it was."""

    kind: str
    value: str
    start: int
    end: int


def _digits(text: str) -> str:
    return re.sub(r"\D", "", text)


def extract_entities(text: str) -> list[Entity]:
    """All entities in `text`, in order of appearance, without overlaps.

    Kinds: ``email``, ``phone``, ``order_number``, ``amount``, ``date``.
    Phones are normalised to ``+digits``/digits, amounts to ``<currency> <value>``.
    """
    found: list[Entity] = []
    taken: list[tuple[int, int]] = []

    def free(start: int, end: int) -> bool:
        return all(end <= s or start >= e for s, e in taken)

    def keep(kind: str, value: str, start: int, end: int) -> None:
        found.append(Entity(kind, value, start, end))
        taken.append((start, end))

    for m in EMAIL.finditer(text):
        keep("email", m.group(0).lower(), m.start(), m.end())
    for m in DATE.finditer(text):
        if free(m.start(), m.end()):
            keep("date", m.group(0), m.start(), m.end())
    for m in AMOUNT.finditer(text):
        if free(m.start(), m.end()):
            cur = (m.group("cur1") or m.group("cur2") or "").lower().rstrip("s")
            value = (m.group("v1") or m.group("v2") or "").replace(",", ".")
            keep("amount", f"{value} {CURRENCIES.get(cur, cur.upper())}", m.start(), m.end())
    for m in ORDER_MARKED.finditer(text):
        s, e = m.start("num"), m.end("num")
        if free(s, e):
            keep("order_number", m.group("num"), s, e)
    for m in PHONE.finditer(text):
        digits = _digits(m.group(0))
        if 9 <= len(digits) <= 15 and free(m.start(), m.end()) and m.group(0).count("(") < 2:
            prefix = "+" if m.group(0).lstrip().startswith("+") else ""
            keep("phone", prefix + digits, m.start(), m.end())
    for m in ORDER_BARE.finditer(text):
        s, e = m.start("num"), m.end("num")
        if free(s, e):
            keep("order_number", m.group("num"), s, e)
    return sorted(found, key=lambda ent: ent.start)


def slots_from_entities(entities: list[Entity]) -> dict[str, str]:
    """The conversation slots a message provides: the last value of each kind wins."""
    slots: dict[str, str] = {}
    for ent in entities:
        slots[ent.kind] = ent.value
    return slots
