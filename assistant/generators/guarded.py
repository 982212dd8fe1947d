"""A neural generator with a safety net: its reply is checked, and the template's replaces it.

A neural reply is refused when it is empty, shows a raw placeholder, or states an order
number, phone, amount, date, email or URL that none of its sources holds (the customer's
messages and slots, the filled candidate answers, the company facts). The template reply
is then used, and `Reply.note` says which values were invented.

Streaming: deltas already sent cannot be unsent, so the final `Reply` of a stream carries
the authoritative text; the service must send it in its final event (and a client shows it
in place of the streamed text when they differ).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Protocol

from .base import Generator, Reply, ReplyRequest
from .grounding import grounding_sources, ungrounded_values
from .template import TemplateGenerator, has_placeholder

log = logging.getLogger(__name__)


class StreamingGenerator(Protocol):
    name: str

    def compose(self, request: ReplyRequest) -> Reply: ...

    def stream(self, request: ReplyRequest) -> Iterator[str | Reply]: ...


def stream_reply(generator: Generator, request: ReplyRequest) -> Iterator[str | Reply]:
    """Any generator as a stream: its own `stream` when it has one, else the composed reply
    as one delta. Yields text deltas, then exactly one final `Reply`."""
    stream = getattr(generator, "stream", None)
    if callable(stream):
        yield from stream(request)
        return
    reply = generator.compose(request)
    if reply.text:
        yield reply.text
    yield reply


class GuardedGenerator:
    """`primary` (a neural backend) checked against its sources; `fallback` when it fails."""

    def __init__(self, primary: Generator, fallback: TemplateGenerator) -> None:
        self.primary = primary
        self.fallback = fallback
        self.name = f"guarded:{primary.name}"

    def problem(self, request: ReplyRequest, reply: Reply) -> str | None:
        """Why `reply` must not reach the customer, or None when it may."""
        text = reply.text.strip()
        if not text:
            return "empty neural reply"
        if has_placeholder(text) or "{{" in text or "}}" in text:
            return "raw placeholder in neural reply"
        invented = ungrounded_values(text, grounding_sources(request, self.fallback))
        if invented:
            return f"ungrounded value(s) {', '.join(invented)} in neural reply"
        return None

    def _replace(self, request: ReplyRequest, why: str) -> Reply:
        log.warning("neural reply replaced (%s); template reply used", why)
        reply = self.fallback.compose(request)
        return Reply(
            reply.text,
            reply.source_ids,
            note=f"{why}; template reply used",
            ask_slot=reply.ask_slot,
        )

    def _checked(self, request: ReplyRequest, reply: Reply) -> Reply:
        why = self.problem(request, reply)
        return reply if why is None else self._replace(request, why)

    def compose(self, request: ReplyRequest) -> Reply:
        try:
            reply = self.primary.compose(request)
        except Exception as exc:
            log.exception("%s failed", self.primary.name)
            return self._replace(request, f"{self.primary.name} failed ({exc})")
        return self._checked(request, reply)

    def stream(self, request: ReplyRequest) -> Iterator[str | Reply]:
        """The primary's deltas as they come, then the checked final `Reply`."""
        final: Reply | None = None
        sent = False
        try:
            for item in stream_reply(self.primary, request):
                if isinstance(item, Reply):
                    final = item
                    break
                if item:
                    sent = True
                    yield item
        except Exception as exc:
            log.exception("%s failed while streaming", self.primary.name)
            final = self._replace(request, f"{self.primary.name} failed ({exc})")
        else:
            if final is None:
                final = self._replace(request, f"{self.primary.name} stream ended without a reply")
            else:
                final = self._checked(request, final)
        if not sent and final.text:
            yield final.text
        yield final

    def quick_replies(self, request: ReplyRequest) -> list[str]:
        return self.fallback.quick_replies(request)
