"""What a neural reply may say: the reference answers it is given, and a check of its values.

A model may phrase an answer freely, but every order number, phone number, amount, date,
email or URL in its reply must come from somewhere we trust: the customer's own messages,
the retrieved answers with their slots filled, or the company facts. `ungrounded_values`
lists the ones that come from nowhere (an invented order number, a made-up URL).

Also here, shared by every neural backend: the reference answers (filled candidates) and the
chat messages a backend sends to its model. Pure functions, no model or I/O.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from intents.entities import extract_entities

from .base import ReplyRequest
from .template import TemplateGenerator, fill

URL = re.compile(r"(?:\bhttps?://|\bwww\.)[^\s<>\"'`]+", re.IGNORECASE)
_URL_TRAILING = ".,;:!?)]}>'\"»”’"
_NUMBER = re.compile(r"\d+(?:[.,]\d+)?")
_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_PHONE_SUFFIX_MIN = 7  # a phone matches a longer one on its last digits (country code left out)

SYSTEM_PROMPT = (
    "You are the customer support agent of {company}. Answer the customer's last message "
    "briefly and politely, using only the facts in the reference answers below. Never invent "
    "order numbers, amounts, dates, emails, phone numbers or links. If the references do not "
    "answer the question, say that a colleague will help."
)


# ---------------------------------------------------------------- normalisation
def normalise_url(url: str) -> str:
    """Scheme, ``www.``, trailing punctuation and slash removed; host lower-cased."""
    url = url.rstrip(_URL_TRAILING)
    url = re.sub(r"^(?:https?://)?(?:www\.)?", "", url, flags=re.IGNORECASE)
    host, sep, rest = url.partition("/")
    return (host.lower() + sep + rest).rstrip("/")


def _digits(text: str) -> str:
    return re.sub(r"\D", "", text)


def _amount_value(value: str) -> float | None:
    """``"5.95 USD"`` (as `extract_entities` writes it) -> 5.95."""
    m = _NUMBER.search(value)
    return float(m.group(0).replace(",", ".")) if m else None


def normalise_date(text: str) -> str:
    """``2024-03-05``, ``3/5/24``, ``March 5th`` and ``5 March`` -> ``"3-5"`` (month-day).

    The year is dropped: a source saying "March 5" grounds a reply saying "5 March 2024".
    Slashed dates are read month first (US style). Anything else: lower case, no punctuation.
    """
    t = text.strip().lower()
    if m := re.fullmatch(r"(\d{4})-(\d{2})-(\d{2})", t):
        return f"{int(m.group(2))}-{int(m.group(3))}"
    if m := re.fullmatch(r"(\d{1,2})/(\d{1,2})/\d{2,4}", t):
        return f"{int(m.group(1))}-{int(m.group(2))}"
    day = re.search(r"\d{1,2}", t)
    month = next((i + 1 for i, name in enumerate(_MONTHS) if re.search(rf"\b{name}", t)), None)
    if day and month:
        return f"{month}-{int(day.group(0))}"
    return re.sub(r"[^a-z0-9]+", " ", t).strip()


# ------------------------------------------------------------------- values
@dataclass(frozen=True)
class Value:
    """One checkable value: its kind, its text as written, and the key it is compared by."""

    kind: str  # order_number | phone | amount | date | email | url
    text: str
    key: str


def values_in(text: str) -> list[Value]:
    """Every order number, phone, amount, date, email and URL in `text`, in order."""
    found: list[tuple[int, Value]] = []
    for m in URL.finditer(text):
        raw = m.group(0).rstrip(_URL_TRAILING)
        found.append((m.start(), Value("url", raw, normalise_url(raw))))
    # Blank the URLs out so that their digits and dots are not read as other entities.
    masked = URL.sub(lambda m: " " * len(m.group(0)), text)
    for ent in extract_entities(masked):
        raw = masked[ent.start : ent.end]
        if ent.kind in ("order_number", "phone"):
            key = _digits(ent.value)
        elif ent.kind == "amount":
            amount = _amount_value(ent.value)
            key = f"{amount:.2f}" if amount is not None else ent.value
        elif ent.kind == "date":
            key = normalise_date(raw)
        else:  # email
            key = ent.value.lower()
        found.append((ent.start, Value(ent.kind, raw, key)))
    return [v for _, v in sorted(found, key=lambda item: item[0])]


@dataclass(frozen=True)
class _Known:
    numbers: set[str]  # digit strings: order numbers, phones, and every digit run
    amounts: set[str]
    dates: set[str]
    emails: set[str]
    urls: set[str]


def _known(sources: Iterable[str]) -> _Known:
    k = _Known(set(), set(), set(), set(), set())
    for text in sources:
        for v in values_in(text):
            if v.kind in ("order_number", "phone"):
                k.numbers.add(v.key)
            elif v.kind == "amount":
                k.amounts.add(v.key)
            elif v.kind == "date":
                k.dates.add(v.key)
            elif v.kind == "email":
                k.emails.add(v.key)
            else:
                k.urls.add(v.key)
        # "ORD-48213", "order #48213" or a number inside a URL still ground "48213".
        k.numbers.update(re.findall(r"\d+", text))
    return k


def _grounded(v: Value, k: _Known) -> bool:
    if v.kind in ("order_number", "phone"):
        if v.key in k.numbers:
            return True
        return v.kind == "phone" and any(
            min(len(n), len(v.key)) >= _PHONE_SUFFIX_MIN
            and (n.endswith(v.key) or v.key.endswith(n))
            for n in k.numbers
        )
    if v.kind == "amount":
        return v.key in k.amounts
    if v.kind == "date":
        return v.key in k.dates
    if v.kind == "email":
        return v.key in k.emails
    return v.key in k.urls


def ungrounded_values(reply: str, sources: Sequence[str]) -> list[str]:
    """The values in `reply` (as written there) that appear in none of the `sources` texts.

    Compared after normalisation: order numbers and phones by their digits (a phone also
    matches on its last 7+ digits, for a missing country code), emails in lower case, URLs
    without scheme, ``www.``, trailing slash or punctuation, amounts by numeric value, dates
    by month and day. Each value is listed once, in order of appearance.
    """
    known = _known(sources)
    out: list[str] = []
    for v in values_in(reply):
        if not _grounded(v, known) and v.text not in out:
            out.append(v.text)
    return out


# ------------------------------------------------------------ prompt content
def fact_values(template: TemplateGenerator, slots: Mapping[str, str]) -> dict[str, str]:
    """Company facts overlaid with the conversation's slots (internal ``_`` slots left out)."""
    return {**template.facts, **{k: v for k, v in slots.items() if v and not k.startswith("_")}}


def references(
    request: ReplyRequest, template: TemplateGenerator, k: int = 3
) -> list[tuple[int, str]]:
    """The top-`k` candidate answers whose placeholders all filled: (candidate id, text)."""
    values = fact_values(template, request.slots)
    out: list[tuple[int, str]] = []
    for cand in request.candidates:
        text, missing = fill(cand.answer, values)
        if not missing:
            out.append((cand.id, text))
        if len(out) >= k:
            break
    return out


def grounding_sources(request: ReplyRequest, template: TemplateGenerator) -> list[str]:
    """Texts a reply's values may come from: the customer's messages (this one and earlier),
    the conversation's slots (history is stored redacted, slots are not), every candidate
    answer filled, and the company facts."""
    values = fact_values(template, request.slots)
    customer = [text for role, text in request.history if role == "customer"]
    filled = [fill(c.answer, values)[0] for c in request.candidates]
    return [request.message, *customer, *request.slots.values(), *filled, *values.values()]


def build_messages(
    request: ReplyRequest,
    refs: Sequence[tuple[int, str]],
    company: str,
    *,
    max_history: int = 6,
    max_reference_chars: int = 700,
) -> list[dict[str, str]]:
    """Chat messages (system, earlier turns, the customer's message) for a neural backend."""
    lines = [SYSTEM_PROMPT.format(company=company or "the shop"), "", "Reference answers:"]
    for i, (_, text) in enumerate(refs, 1):
        short = text if len(text) <= max_reference_chars else text[:max_reference_chars] + "…"
        lines.append(f"{i}. {short}")
    messages = [{"role": "system", "content": "\n".join(lines)}]
    for role, text in request.history[-max_history:]:
        if text:
            messages.append(
                {"role": "user" if role == "customer" else "assistant", "content": text}
            )
    messages.append({"role": "user", "content": request.message})
    return messages


def plain_prompt(messages: Sequence[Mapping[str, str]]) -> str:
    """The same messages as one text, for models without a chat template."""
    names = {"user": "Customer", "assistant": "Agent"}
    parts = [
        m["content"] if m["role"] == "system" else f"{names[m['role']]}: {m['content']}"
        for m in messages
    ]
    return "\n\n".join(parts[:1]) + "\n\n" + "\n".join(parts[1:]) + "\nAgent:"
