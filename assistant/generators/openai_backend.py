"""A generator behind any OpenAI-compatible server (vLLM, TGI, llama.cpp, Ollama) over HTTP.

Calls ``POST {base_url}/chat/completions`` with httpx (no ``openai`` package), with the same
prompt as the local transformers backend. Whatever goes wrong (timeout, connection refused,
an error status, a body that is not what the protocol says, an empty answer) the customer
still gets the template generator's reply, and `Reply.note` says why.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from typing import Any

import httpx

from .base import Reply, ReplyRequest
from .grounding import build_messages, references
from .template import TemplateGenerator

log = logging.getLogger(__name__)


class BackendError(Exception):
    """The server did not give a usable reply; the message says why (for `Reply.note`)."""


class OpenAIGenerator:
    """Chat completions over HTTP; `timeout_s` bounds the connection and each read (the first
    token, then each chunk when streaming)."""

    name = "openai"

    def __init__(
        self,
        base_url: str,
        api_key: str | None,
        model: str,
        timeout_s: float = 10.0,
        max_tokens: int = 200,
        *,
        fallback: TemplateGenerator,
        top_k: int = 3,
        client: httpx.Client | None = None,
    ) -> None:
        self.url = base_url.rstrip("/") + "/chat/completions"
        self.model = model
        self.timeout_s = timeout_s
        self.max_tokens = max_tokens
        self.fallback = fallback
        self.top_k = top_k
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.client = client or httpx.Client(timeout=httpx.Timeout(timeout_s), headers=headers)

    def close(self) -> None:
        self.client.close()

    # ---------------------------------------------------------------- helpers
    def _plan(self, request: ReplyRequest) -> tuple[Reply | None, list[tuple[int, str]]]:
        """The template's reply when it should stand (clarify, hand-off, a missing value)."""
        if request.decision.action != "answer":
            return self.fallback.compose(request), []
        refs = references(request, self.fallback, self.top_k)
        if not refs:
            return self.fallback.compose(request), []
        return None, refs

    def _payload(
        self, request: ReplyRequest, refs: list[tuple[int, str]], stream: bool
    ) -> dict[str, Any]:
        company = self.fallback.facts.get("company_name", "")
        return {
            "model": self.model,
            "messages": build_messages(request, refs, company),
            "max_tokens": self.max_tokens,
            "temperature": 0,
            "stream": stream,
        }

    def _why(self, exc: Exception) -> str:
        if isinstance(exc, httpx.TimeoutException):
            return f"timeout after {self.timeout_s:g}s"
        if isinstance(exc, httpx.TransportError):
            return f"connection error ({type(exc).__name__}: {exc})"
        if isinstance(exc, BackendError):
            return str(exc)
        return f"{type(exc).__name__}: {exc}"

    def _fallback(self, request: ReplyRequest, exc: Exception) -> Reply:
        why = self._why(exc)
        log.warning("openai backend failed (%s): template reply used", why)
        reply = self.fallback.compose(request)
        return Reply(
            reply.text,
            reply.source_ids,
            note=f"openai backend failed: {why}; template reply used",
            ask_slot=reply.ask_slot,
        )

    @staticmethod
    def _check(response: httpx.Response) -> None:
        if not 200 <= response.status_code < 300:
            log.warning("%s answered HTTP %d", response.request.url, response.status_code)
            raise BackendError(f"HTTP {response.status_code}")

    # ------------------------------------------------------------------ calls
    def _complete(self, request: ReplyRequest, refs: list[tuple[int, str]]) -> str:
        started = time.perf_counter()
        response = self.client.post(self.url, json=self._payload(request, refs, stream=False))
        self._check(response)
        try:
            body = response.json()
            content = body["choices"][0]["message"]["content"]
        except (ValueError, KeyError, IndexError, TypeError) as exc:
            raise BackendError(f"bad response body ({type(exc).__name__}: {exc})") from exc
        if not isinstance(content, str) or not content.strip():
            raise BackendError("empty reply")
        log.debug("openai reply in %.0f ms", (time.perf_counter() - started) * 1000)
        return content.strip()

    def compose(self, request: ReplyRequest) -> Reply:
        done, refs = self._plan(request)
        if done is not None:
            return done
        try:
            text = self._complete(request, refs)
        except Exception as exc:
            return self._fallback(request, exc)
        return Reply(text, [i for i, _ in refs])

    def _chunks(self, request: ReplyRequest, refs: list[tuple[int, str]]) -> Iterator[str]:
        """Content deltas of a streamed completion (Server-Sent Events, ``data: [DONE]``)."""
        payload = self._payload(request, refs, stream=True)
        with self.client.stream("POST", self.url, json=payload) as response:
            self._check(response)
            for line in response.iter_lines():
                line = line.strip()
                if not line.startswith("data:"):
                    continue  # blank keep-alives, comments (":"), "event:" lines
                data = line[len("data:") :].strip()
                if data == "[DONE]":
                    return
                try:
                    chunk = json.loads(data)
                    if chunk.get("error"):
                        raise BackendError(f"server error in stream: {chunk['error']}")
                    choices = chunk.get("choices") or [{}]
                    delta = (choices[0].get("delta") or {}).get("content")
                except (ValueError, AttributeError, TypeError) as exc:
                    raise BackendError(f"bad stream chunk ({type(exc).__name__})") from exc
                if delta:
                    yield str(delta)

    def stream(self, request: ReplyRequest) -> Iterator[str | Reply]:
        """Text deltas as they arrive, then the final `Reply` (its text is authoritative:
        after a failure it is the template's reply, whatever deltas went before)."""
        done, refs = self._plan(request)
        if done is not None:
            if done.text:
                yield done.text
            yield done
            return
        parts: list[str] = []
        try:
            for delta in self._chunks(request, refs):
                parts.append(delta)
                if not "".join(parts).strip():
                    continue  # hold leading whitespace back: an empty reply sends nothing
                if len(parts) > 1 and not "".join(parts[:-1]).strip():
                    delta = "".join(parts).lstrip()
                yield delta
            text = "".join(parts).strip()
            if not text:
                raise BackendError("empty reply")
        except Exception as exc:
            reply = self._fallback(request, exc)
            if not parts and reply.text:
                yield reply.text
            yield reply
            return
        yield Reply(text, [i for i, _ in refs])
