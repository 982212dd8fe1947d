"""A local Hugging Face language model (causal or seq2seq) that rephrases the retrieved answers.

The model sees a short instruction, the recent conversation, the customer's message and the
top retrieved answers with their slots and company facts filled in, and writes the reply with
greedy decoding. Clarifying questions and hand-offs stay with the template generator: they are
exact there. torch and transformers are imported only when a model is loaded.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .base import Reply, ReplyRequest
from .grounding import build_messages, plain_prompt, references
from .template import TemplateGenerator

log = logging.getLogger(__name__)

STOP_MARKERS = ("\nCustomer:", "\nAgent:")  # a plain-prompt model writing the next turn
STREAM_TIMEOUT_S = 120.0  # longest wait for the next token before the stream gives up


class TransformersGenerator:
    """Any local causal-LM or seq2seq folder; the template generator handles the rest."""

    name = "transformers"

    def __init__(
        self,
        model_path: str | Path,
        device: str = "cpu",
        max_new_tokens: int = 120,
        *,
        fallback: TemplateGenerator,
        top_k: int = 3,
    ) -> None:
        import torch
        from transformers import (
            AutoConfig,
            AutoModelForCausalLM,
            AutoModelForSeq2SeqLM,
            AutoTokenizer,
        )

        folder = Path(model_path)
        if not folder.is_dir():
            raise FileNotFoundError(f"generator model folder not found: {folder}")
        started = time.perf_counter()
        config = AutoConfig.from_pretrained(folder, local_files_only=True)
        self.encoder_decoder = bool(getattr(config, "is_encoder_decoder", False))
        auto: Any = AutoModelForSeq2SeqLM if self.encoder_decoder else AutoModelForCausalLM
        self.tokenizer: Any = AutoTokenizer.from_pretrained(folder, local_files_only=True)
        self.model: Any = auto.from_pretrained(folder, local_files_only=True).to(device).eval()
        if self.tokenizer.pad_token_id is None and self.tokenizer.eos_token_id is not None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.device = device
        self.max_new_tokens = max_new_tokens
        self.fallback = fallback
        self.top_k = top_k
        self.has_chat_template = bool(getattr(self.tokenizer, "chat_template", None))
        self.max_input_tokens = self._max_input_tokens(config)
        self._torch = torch
        log.info(
            "loaded generator %s (%s, %s, chat template: %s) on %s in %.1fs",
            folder,
            config.model_type,
            "seq2seq" if self.encoder_decoder else "causal",
            "yes" if self.has_chat_template else "no",
            device,
            time.perf_counter() - started,
        )

    def _max_input_tokens(self, config: Any) -> int:
        """Room for the prompt: the model's positions minus the tokens it will write."""
        limit = getattr(config, "max_position_embeddings", None) or getattr(
            config, "n_positions", None
        )
        if not self.encoder_decoder and limit:
            return max(int(limit) - self.max_new_tokens, 16)
        tok_limit = int(getattr(self.tokenizer, "model_max_length", 0) or 0)
        return tok_limit if 0 < tok_limit < 100_000 else 2048

    # ------------------------------------------------------------------ prompt
    def _prompt(self, request: ReplyRequest, refs: list[tuple[int, str]]) -> str:
        company = self.fallback.facts.get("company_name", "")
        messages = build_messages(request, refs, company)
        if self.has_chat_template:
            try:
                return str(
                    self.tokenizer.apply_chat_template(
                        messages, tokenize=False, add_generation_prompt=True
                    )
                )
            except Exception as exc:  # some templates refuse a system role: fold it in
                log.debug("chat template refused the system role (%s); merging it", exc)
                system, rest = messages[0]["content"], messages[1:]
                if rest and rest[0]["role"] == "user":
                    first = {"role": "user", "content": system + "\n\n" + rest[0]["content"]}
                    rest = [first, *rest[1:]]
                else:
                    rest = [{"role": "user", "content": system}, *rest]
                return str(
                    self.tokenizer.apply_chat_template(
                        rest, tokenize=False, add_generation_prompt=True
                    )
                )
        return plain_prompt(messages)

    def _inputs(self, prompt: str) -> dict[str, Any]:
        # A chat template already wrote the special tokens the model expects.
        enc = self.tokenizer(
            prompt, return_tensors="pt", add_special_tokens=not self.has_chat_template
        )
        ids = enc["input_ids"]
        if ids.shape[1] > self.max_input_tokens:
            # Keep the end (the customer's message and the cue to answer).
            log.warning("prompt of %d tokens cut to %d", ids.shape[1], self.max_input_tokens)
            enc = {k: v[:, -self.max_input_tokens :] for k, v in enc.items()}
        return {k: v.to(self.device) for k, v in enc.items()}

    def _gen_kwargs(self, inputs: dict[str, Any]) -> dict[str, Any]:
        return {
            **inputs,
            "max_new_tokens": self.max_new_tokens,
            "do_sample": False,
            "num_beams": 1,
            "pad_token_id": self.tokenizer.pad_token_id,
        }

    def _clean(self, text: str) -> str:
        """Cut a plain-prompt model that goes on to write the customer's next line."""
        for stop in STOP_MARKERS:
            text = text.split(stop, 1)[0]
        return text.strip()

    def _plan(self, request: ReplyRequest) -> tuple[Reply | None, list[tuple[int, str]]]:
        """The template's reply when it should stand (not an answer, a question, a hand-off),
        else None and the references for the model."""
        if request.decision.action != "answer":
            return self.fallback.compose(request), []
        refs = references(request, self.fallback, self.top_k)
        if not refs:
            # No candidate can be filled: the template asks for the value or hands off.
            return self.fallback.compose(request), []
        return None, refs

    def _final(self, request: ReplyRequest, refs: list[tuple[int, str]], text: str) -> Reply:
        text = self._clean(text)
        if not text:
            reply = self.fallback.compose(request)
            return Reply(
                reply.text,
                reply.source_ids,
                note="transformers backend wrote nothing; template reply used",
                ask_slot=reply.ask_slot,
            )
        return Reply(text, [i for i, _ in refs])

    # --------------------------------------------------------------- generate
    def compose(self, request: ReplyRequest) -> Reply:
        done, refs = self._plan(request)
        if done is not None:
            return done
        inputs = self._inputs(self._prompt(request, refs))
        started = time.perf_counter()
        with self._torch.inference_mode():
            out = self.model.generate(**self._gen_kwargs(inputs))
        new = out[0] if self.encoder_decoder else out[0, inputs["input_ids"].shape[1] :]
        text = self.tokenizer.decode(new, skip_special_tokens=True)
        log.debug(
            "generated %d tokens in %.0f ms", len(new), (time.perf_counter() - started) * 1000
        )
        return self._final(request, refs, text)

    def stream(self, request: ReplyRequest) -> Iterator[str | Reply]:
        """Text deltas as tokens arrive, then the final `Reply` (its text is authoritative)."""
        from transformers import TextIteratorStreamer

        done, refs = self._plan(request)
        if done is not None:
            if done.text:
                yield done.text
            yield done
            return
        inputs = self._inputs(self._prompt(request, refs))
        streamer = TextIteratorStreamer(
            self.tokenizer, skip_prompt=True, timeout=STREAM_TIMEOUT_S, skip_special_tokens=True
        )
        failure: list[BaseException] = []

        def run() -> None:
            try:
                with self._torch.inference_mode():  # thread-local: entered in this thread
                    self.model.generate(**self._gen_kwargs(inputs), streamer=streamer)
            except BaseException as exc:  # reported to the consumer below
                failure.append(exc)
                streamer.end()

        thread = threading.Thread(target=run, name="transformers-stream", daemon=True)
        thread.start()
        parts: list[str] = []
        sent, stopped = 0, False
        try:
            for delta in streamer:
                if not delta or stopped:
                    continue  # past a stop marker: let generation finish, send nothing more
                parts.append(delta)
                text = "".join(parts)
                cut = min((text.find(m) for m in STOP_MARKERS if m in text), default=-1)
                if cut >= 0:
                    stopped, text = True, text[:cut]
                if len(text) > sent:
                    yield text[sent:]
                    sent = len(text)
        finally:
            thread.join()
        if failure:
            log.error("transformers generation failed: %s", failure[0])
            reply = self.fallback.compose(request)
            if not sent and reply.text:
                yield reply.text
            yield Reply(
                reply.text,
                reply.source_ids,
                note=f"transformers backend failed: {failure[0]}; template reply used",
                ask_slot=reply.ask_slot,
            )
            return
        reply = self._final(request, refs, "".join(parts))
        if not sent and reply.text:
            yield reply.text  # nothing streamed: the fallback's text as one chunk
        yield reply
