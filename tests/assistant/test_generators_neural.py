"""Neural generator backends: a tiny local model, an OpenAI-compatible test server, the guard.

The models are built here (2 layers, width 32, a word-level vocabulary trained on a few
sentences), so they load in milliseconds and write random words: the tests check the
contract (bounded text, deltas then a final Reply, fallbacks), not the prose.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, StreamingResponse

from assistant.generators import Candidate, Reply, ReplyRequest, TemplateGenerator
from assistant.generators.factory import make_generator
from assistant.generators.guarded import GuardedGenerator, stream_reply
from assistant.policy import Decision

FACTS = {
    "company_name": "Harbor & Pine",
    "support_hours": "9 to 5",
    "order_tracking_url": "https://harborandpine.example/orders/track",
}
TITLES = {"order_status": "Track an order", "talk_to_human": "Talk to a person"}
ANSWER = Decision("answer", "ok", "order_status")
TEMPLATE_TEXT = (
    "Order 48213 is on its way; follow it at https://harborandpine.example/orders/track."
)
SENTENCES = [
    "You are the customer support agent of Harbor & Pine .",
    "Reference answers : Order 48213 is on its way ; follow it at the link .",
    "Customer : where is my order ? Agent : it ships today , thanks for waiting .",
]
CHAT_TEMPLATE = (
    "{% for m in messages %}<{{ m['role'] }}> {{ m['content'] }}\n{% endfor %}"
    "{% if add_generation_prompt %}<assistant>{% endif %}"
)


def template() -> TemplateGenerator:
    return TemplateGenerator(FACTS, TITLES)


def request(decision: Decision = ANSWER, slots: dict[str, str] | None = None) -> ReplyRequest:
    return ReplyRequest(
        decision,
        "where is my order 48213?",
        [
            Candidate(
                7,
                0.9,
                "Order {order_number} is on its way; follow it at {order_tracking_url}.",
                "order_status",
            )
        ],
        {"order_number": "48213"} if slots is None else slots,
        [("customer", "hello"), ("bot", "Hi! How can I help?")],
    )


def split(items: list[str | Reply]) -> tuple[list[str], Reply]:
    """A stream's deltas and its final Reply, checking that the Reply comes last and once."""
    assert items and isinstance(items[-1], Reply)
    deltas = items[:-1]
    assert all(isinstance(d, str) for d in deltas)
    return [str(d) for d in deltas], items[-1]


# ----------------------------------------------------------------- tiny models
def _tokenizer(chat_template: str | None) -> Any:
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.WordLevel(unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.train_from_iterator(
        SENTENCES, trainers.WordLevelTrainer(special_tokens=["[PAD]", "[UNK]", "[EOS]"])
    )
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, unk_token="[UNK]", pad_token="[PAD]", eos_token="[EOS]"
    )
    if chat_template:
        fast.chat_template = chat_template
    return fast


@pytest.fixture(scope="module")
def tiny_causal(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2-layer GPT-2 with a chat template, saved as a normal model folder."""
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel

    folder = tmp_path_factory.mktemp("tiny-gpt2")
    tok = _tokenizer(CHAT_TEMPLATE)
    tok.save_pretrained(folder)
    config = GPT2Config(
        n_layer=2,
        n_embd=32,
        n_head=2,
        n_positions=256,
        vocab_size=len(tok),
        bos_token_id=tok.eos_token_id,
        eos_token_id=tok.eos_token_id,
        pad_token_id=tok.pad_token_id,
    )
    torch.manual_seed(0)
    GPT2LMHeadModel(config).save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def tiny_seq2seq(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 1+1-layer T5 without a chat template (plain prompt)."""
    import torch
    from transformers import T5Config, T5ForConditionalGeneration

    folder = tmp_path_factory.mktemp("tiny-t5")
    tok = _tokenizer(None)
    tok.save_pretrained(folder)
    config = T5Config(
        vocab_size=len(tok),
        d_model=32,
        d_kv=16,
        d_ff=64,
        num_layers=1,
        num_decoder_layers=1,
        num_heads=2,
        pad_token_id=tok.pad_token_id,
        eos_token_id=tok.eos_token_id,
        decoder_start_token_id=tok.pad_token_id,
    )
    torch.manual_seed(0)
    T5ForConditionalGeneration(config).save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def causal_gen(tiny_causal: Path) -> Any:
    from assistant.generators.transformers_backend import TransformersGenerator

    return TransformersGenerator(tiny_causal, max_new_tokens=8, fallback=template())


def test_transformers_compose_is_bounded_and_cites_references(causal_gen: Any) -> None:
    assert causal_gen.has_chat_template and not causal_gen.encoder_decoder
    reply = causal_gen.compose(request())
    assert reply.text
    if reply.note is None:  # the model wrote something: at most 8 words of the tiny vocabulary
        assert len(reply.text.split()) <= 8
        assert reply.source_ids == [7]
    assert causal_gen.compose(request()) == reply  # greedy: deterministic


def test_transformers_stream_yields_deltas_then_the_reply(causal_gen: Any) -> None:
    deltas, final = split(list(causal_gen.stream(request())))
    assert deltas
    assert "".join(deltas).strip() == final.text
    assert final == causal_gen.compose(request())


def test_transformers_leaves_clarify_handoff_and_missing_values_to_the_template(
    causal_gen: Any,
) -> None:
    clarify = Decision("clarify", "low", "order_status", options=("order_status",))
    handoff = Decision("handoff", "asked", "talk_to_human")
    for req in (request(clarify), request(handoff), request(slots={})):
        assert causal_gen.compose(req) == template().compose(req)
        deltas, final = split(list(causal_gen.stream(req)))
        assert final == template().compose(req) and "".join(deltas) == final.text
    assert template().compose(request(slots={})).ask_slot == "order_number"


def test_transformers_seq2seq_plain_prompt(tiny_seq2seq: Path) -> None:
    from assistant.generators.transformers_backend import TransformersGenerator

    gen = TransformersGenerator(tiny_seq2seq, max_new_tokens=6, fallback=template())
    assert gen.encoder_decoder and not gen.has_chat_template
    reply = gen.compose(request())
    assert reply.text and (reply.note is not None or len(reply.text.split()) <= 6)
    deltas, final = split(list(gen.stream(request())))
    assert final == reply and "".join(deltas).strip() == final.text


# ----------------------------------------------------------------------- guard
class FakePrimary:
    """Stands in for a model's output: a fixed text, optionally streamed word by word."""

    name = "fake"

    def __init__(self, text: str, fail: bool = False) -> None:
        self.text = text
        self.fail = fail

    def compose(self, request: ReplyRequest) -> Reply:
        if self.fail:
            raise RuntimeError("model crashed")
        return Reply(self.text, [c.id for c in request.candidates])

    def stream(self, request: ReplyRequest) -> Iterator[str | Reply]:
        for word in self.text.split(" "):
            yield word + " "
        yield self.compose(request)


@pytest.mark.parametrize(
    ("text", "note"),
    [
        ("Your order 55555 ships tomorrow.", "ungrounded value(s) 55555 in neural reply"),
        ("Refunds at https://harborandpine.example/refund-now", "ungrounded value(s) https://"),
        ("Your order {order_number} ships tomorrow.", "raw placeholder in neural reply"),
        ("Call {{Customer Support Phone Number}}", "raw placeholder in neural reply"),
        ("   ", "empty neural reply"),
    ],
)
def test_guard_replaces_bad_neural_replies(text: str, note: str) -> None:
    guarded = GuardedGenerator(FakePrimary(text), template())
    expected = template().compose(request())
    for reply in (guarded.compose(request()), split(list(guarded.stream(request())))[1]):
        assert reply.text == expected.text == TEMPLATE_TEXT
        assert reply.source_ids == [7]
        assert reply.note is not None and reply.note.startswith(note)
        assert reply.note.endswith("template reply used")


def test_guard_keeps_grounded_neural_replies() -> None:
    text = "Good news: order 48213 is on its way (https://harborandpine.example/orders/track)."
    guarded = GuardedGenerator(FakePrimary(text), template())
    assert guarded.name == "guarded:fake"
    assert guarded.compose(request()) == Reply(text, [7])
    deltas, final = split(list(guarded.stream(request())))
    assert final == Reply(text, [7]) and "".join(deltas).strip() == text


def test_guard_survives_a_crashing_primary_and_delegates_quick_replies() -> None:
    guarded = GuardedGenerator(FakePrimary("x", fail=True), template())
    reply = guarded.compose(request())
    assert reply.text == TEMPLATE_TEXT and reply.note and "model crashed" in reply.note
    deltas, final = split(list(guarded.stream(request())))
    assert final.text == TEMPLATE_TEXT and deltas == ["x "]  # sent before the crash
    clarify = request(Decision("clarify", "low", "order_status", options=("order_status",)))
    assert guarded.quick_replies(clarify) == ["Track an order"]


def test_stream_reply_wraps_a_generator_without_stream() -> None:
    deltas, final = split(list(stream_reply(template(), request())))
    assert deltas == [TEMPLATE_TEXT] and final.text == TEMPLATE_TEXT


# --------------------------------------------------------------------- factory
def test_factory(tiny_causal: Path) -> None:
    kw: dict[str, Any] = {"facts": FACTS, "titles": TITLES}
    assert isinstance(make_generator("template", **kw), TemplateGenerator)
    with pytest.raises(ValueError, match="unknown generator 'gpt'"):
        make_generator("gpt", **kw)
    with pytest.raises(ValueError, match="model_path"):
        make_generator("transformers", **kw)
    with pytest.raises(ValueError, match="base_url"):
        make_generator("openai", **kw)
    gen = make_generator("transformers", model_path=tiny_causal, max_new_tokens=4, **kw)
    assert isinstance(gen, GuardedGenerator) and gen.name == "guarded:transformers"
    gen = make_generator("openai", base_url="http://127.0.0.1:9/v1", model="m", **kw)
    assert isinstance(gen, GuardedGenerator) and gen.name == "guarded:openai"


# ------------------------------------------------- OpenAI-compatible test server
# A stand-in for vLLM / Ollama / llama.cpp's OpenAI-compatible server, on a loopback port.
# The requested "model" picks the behaviour under test.
GOOD = "Order 48213 is on its way, see https://harborandpine.example/orders/track"
INVENTED = "Your replacement order 90210 ships today."


def _server_app() -> Any:
    app = FastAPI()
    app.state.seen = []

    @app.post("/v1/chat/completions")
    async def complete(req: Request) -> Any:
        body = await req.json()
        app.state.seen.append({"body": body, "auth": req.headers.get("authorization")})
        mode = body["model"]
        if mode == "error":
            return JSONResponse({"error": {"message": "boom"}}, status_code=500)
        if mode == "slow":
            await asyncio.sleep(1.0)
        if mode == "garbage":
            return PlainTextResponse("not json")
        text = {"invent": INVENTED, "empty": ""}.get(mode, GOOD)
        if not body.get("stream"):
            return {"choices": [{"index": 0, "message": {"role": "assistant", "content": text}}]}

        async def events() -> Any:
            yield ": keep-alive\n\n"
            for word in text.split(" "):
                chunk = {"choices": [{"index": 0, "delta": {"content": word + " "}}]}
                yield f"data: {json.dumps(chunk)}\n\n"
            yield "data: [DONE]\n\n"

        return StreamingResponse(events(), media_type="text/event-stream")

    return app


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[str, Any]]:
    import time

    import uvicorn

    app = _server_app()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", timeout_graceful_shutdown=1)
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not srv.started and time.monotonic() < deadline:
        time.sleep(0.02)
    assert srv.started, "test server did not start"
    yield f"http://127.0.0.1:{port}/v1", app
    srv.should_exit = True
    thread.join(5)
    sock.close()


def openai(base_url: str, model: str, timeout_s: float = 5.0) -> Any:
    from assistant.generators.openai_backend import OpenAIGenerator

    return OpenAIGenerator(base_url, "sk-test", model, timeout_s=timeout_s, fallback=template())


def test_openai_reply_and_request(server: tuple[str, Any]) -> None:
    url, app = server
    gen = openai(url, "good")
    assert gen.compose(request()) == Reply(GOOD, [7])
    seen = app.state.seen[-1]
    assert seen["auth"] == "Bearer sk-test"
    body = seen["body"]
    assert body["model"] == "good" and body["stream"] is False and body["max_tokens"] == 200
    assert body["messages"][0]["role"] == "system"
    assert "Order 48213 is on its way" in body["messages"][0]["content"]  # filled reference
    assert body["messages"][-1] == {"role": "user", "content": "where is my order 48213?"}


def test_openai_streaming(server: tuple[str, Any]) -> None:
    deltas, final = split(list(openai(server[0], "good").stream(request())))
    assert len(deltas) == len(GOOD.split(" "))
    assert final == Reply(GOOD, [7])


@pytest.mark.parametrize(
    ("model", "timeout_s", "why"),
    [
        ("error", 5.0, "HTTP 500"),
        ("slow", 0.5, "timeout after 0.5s"),
        ("garbage", 5.0, "bad response body"),
        ("empty", 5.0, "empty reply"),
    ],
)
def test_openai_failures_fall_back_to_the_template(
    server: tuple[str, Any], model: str, timeout_s: float, why: str
) -> None:
    gen = openai(server[0], model, timeout_s)
    reply = gen.compose(request())
    assert reply.text == TEMPLATE_TEXT and reply.source_ids == [7]
    assert reply.note is not None and reply.note.startswith(f"openai backend failed: {why}")
    assert reply.note.endswith("; template reply used")
    if model in ("error", "empty"):  # streamed too (the slow case would only repeat the wait)
        deltas, final = split(list(gen.stream(request())))
        assert final.text == TEMPLATE_TEXT and final.note is not None and why in final.note
        assert "".join(deltas) in ("", TEMPLATE_TEXT)


def test_openai_connection_refused_falls_back() -> None:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens there now
    reply = openai(f"http://127.0.0.1:{port}/v1", "good").compose(request())
    assert reply.text == TEMPLATE_TEXT
    assert reply.note and reply.note.startswith("openai backend failed: connection error")


def test_guarded_openai_refuses_an_invented_order_number(server: tuple[str, Any]) -> None:
    gen = make_generator(
        "openai", facts=FACTS, titles=TITLES, base_url=server[0], model="invent", timeout_s=5
    )
    reply = gen.compose(request())
    assert reply.text == TEMPLATE_TEXT
    assert reply.note == "ungrounded value(s) 90210 in neural reply; template reply used"
    deltas, final = split(list(gen.stream(request())))
    assert "".join(deltas).strip() == INVENTED  # already sent: the final event corrects it
    assert final.text == TEMPLATE_TEXT and final.note == reply.note
