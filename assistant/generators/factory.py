"""Build the configured generator: the template one, or a guarded neural backend over it."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path

from .base import Generator
from .guarded import GuardedGenerator
from .template import TemplateGenerator

log = logging.getLogger(__name__)

KINDS = ("template", "transformers", "openai")


def make_generator(
    kind: str,
    *,
    facts: Mapping[str, str],
    titles: Mapping[str, str],
    model_path: str | Path | None = None,
    device: str = "cpu",
    base_url: str | None = None,
    api_key: str | None = None,
    model: str | None = None,
    timeout_s: float = 10.0,
    max_new_tokens: int = 120,
) -> Generator:
    """``template`` -> TemplateGenerator; ``transformers`` / ``openai`` -> that backend wrapped
    in a GuardedGenerator whose fallback is the template generator.

    Raises ValueError for an unknown kind or a missing ``model_path`` / ``base_url``.
    """
    name = kind.strip().lower()
    template = TemplateGenerator(facts, titles)
    if name == "template":
        return template
    if name == "transformers":
        if model_path is None:
            raise ValueError(
                "generator 'transformers' needs model_path (CSA_GENERATOR_MODEL_PATH): "
                "a local Hugging Face causal-LM or seq2seq folder"
            )
        from .transformers_backend import TransformersGenerator  # torch only when asked for

        primary: Generator = TransformersGenerator(
            model_path, device=device, max_new_tokens=max_new_tokens, fallback=template
        )
    elif name == "openai":
        if not base_url:
            raise ValueError(
                "generator 'openai' needs base_url (CSA_GENERATOR_BASE_URL), e.g. "
                "http://127.0.0.1:8001/v1 for a vLLM or llama.cpp server"
            )
        from .openai_backend import OpenAIGenerator

        primary = OpenAIGenerator(
            base_url,
            api_key,
            model or "default",
            timeout_s=timeout_s,
            max_tokens=max_new_tokens,
            fallback=template,
        )
    else:
        raise ValueError(f"unknown generator {kind!r}: expected one of {', '.join(KINDS)}")
    log.info("generator: %s, checked against its sources, template fallback", primary.name)
    return GuardedGenerator(primary, template)
