"""Typed settings, read once from the environment (prefix ``CSA_``) and passed down."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Everything the service and the CLI can be configured with.

    Each field reads ``CSA_<FIELD>`` from the environment, e.g. ``CSA_PORT=9000``.
    """

    model_config = SettingsConfigDict(env_prefix="CSA_", env_file=None, extra="ignore")

    # serving
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    cors_origins: list[str] = Field(
        default_factory=list,
        description="Origins allowed to call the API from a browser (the widget's pages).",
    )

    # storage
    data_dir: Path = Path("var")
    database_url: str | None = Field(
        default=None, description="Any SQLAlchemy URL; default: SQLite file under data_dir."
    )

    # models and index (default: under data_dir, built by `assistant demo prepare`)
    encoder_path: Path | None = Field(
        default=None, description="Sentence encoder folder; default: the packaged MiniLM."
    )
    intent_model_path: Path | None = None
    sentiment_model_path: Path | None = None
    index_path: Path | None = None
    company_facts_path: Path | None = None
    intents_catalog_path: Path | None = None

    # policy thresholds
    clarify_margin: float = Field(
        default=0.15, description="Top-2 intent gap below which we clarify."
    )
    min_intent_confidence: float = 0.45
    min_retrieval_score: float = Field(
        0.25, description="Cosine below which no source is grounded."
    )
    negative_handoff_score: float = Field(
        default=0.8, description="Sentiment score counted as angry."
    )
    max_message_chars: int = 4000
    retrieval_k: int = 5

    # inference under load (assistant/batcher.py)
    batch_window_ms: float = Field(
        default=1.0,
        ge=0,
        description="How long a turn's model call waits for concurrent turns to share one "
        "forward pass (intent, sentiment, query encoding); 0 = take only those already waiting.",
    )
    batch_max_size: int = Field(
        default=32, ge=1, description="Most turns in one forward pass; 1 = no batching."
    )
    torch_threads: int = Field(
        default=1,
        ge=0,
        description="CPU threads per torch forward pass in the server (inference_backend "
        "torch); 0 = torch's default (one per core). 1 leaves the other cores to the request "
        "threads: more turns per CPU-second under load (bench/RESULTS.md, Load).",
    )
    onnx_threads: int = Field(
        default=2,
        ge=0,
        description="ONNX Runtime threads per forward pass (idle ones sleep, not spin); 0 = "
        "one per core. With several workers, about cores / workers (bench/RESULTS.md, Load).",
    )
    inference_backend: Literal["auto", "onnx", "onnx-int8", "torch"] = Field(
        default="auto",
        description="auto | onnx | onnx-int8 | torch. onnx: the classifiers and the query "
        "encoder run on ONNX Runtime (CPU; 2-3x faster for a turn's short texts, same "
        "outputs), converted once into data_dir/cache/onnx; onnx-int8: with int8 weights "
        "(faster again, outputs differ slightly: bench/RESULTS.md); auto: onnx on a CPU when "
        "onnxruntime is installed, else torch (threads: onnx_threads, torch_threads).",
    )
    shared_pass: bool = Field(
        default=True,
        description="Run the layers the classifiers share with the retrieval encoder (models "
        "trained with --freeze-layers) once per turn instead of three times (ONNX backends).",
    )
    access_log: bool = Field(default=True, description="Log one line per HTTP request.")

    # generator
    generator: str = Field(default="template", description="template | transformers | openai")
    generator_model_path: Path | None = Field(
        default=None, description="Local Hugging Face model folder (generator=transformers)."
    )
    generator_device: str = "cpu"
    generator_base_url: str | None = Field(
        default=None, description="OpenAI-compatible server, e.g. http://127.0.0.1:8001/v1"
    )
    generator_api_key: SecretStr | None = None
    generator_model: str | None = None
    generator_timeout_s: float = 10.0
    generator_max_new_tokens: int = 120

    # retraining, model registry and hot swap (training/retrain.py, assistant/hotswap.py) --
    model_watch_interval_s: float = Field(
        default=0.0,
        ge=0,
        description="Seconds between checks of models/*/current for a newly promoted model, "
        "swapped in without a restart; 0 = off.",
    )
    retrain_schedule: bool = Field(
        default=False,
        description="Run the retraining schedule from a thread inside the API (else use cron: "
        "`assistant retrain --if-due`).",
    )
    retrain_interval_hours: float = Field(
        default=168.0, gt=0, description="Retrain at most this often (hours)."
    )
    retrain_min_new_labels: int = Field(
        default=50, ge=0, description="Agents' corrections needed since the last run."
    )
    retrain_check_interval_s: float = Field(default=600.0, gt=0)
    retrain_lock_ttl_s: float = Field(
        default=3 * 3600.0, gt=0, description="A crashed retraining's lock expires after this."
    )
    retrain_include_bot_labels: bool = False
    retrain_bot_min_confidence: float = Field(default=0.9, ge=0, le=1)

    # helpdesk webhooks, admin API and the outbox (assistant/webhooks) --------------------
    webhook_secrets: dict[str, str] = Field(
        default_factory=dict,
        description="Inbound shared secret per provider (zendesk, freshdesk, chatwoot), as JSON: "
        'CSA_WEBHOOK_SECRETS=\'{"zendesk": "..."}\'. A provider without one is refused.',
    )
    webhook_tolerance_s: int = Field(
        default=300, ge=1, description="Largest allowed skew of X-CSA-Timestamp (replay guard)."
    )
    outbox_worker: bool | None = Field(
        default=None,
        description="Deliver outbox events from a thread inside the API: true, false, or "
        "unset = only when webhook subscriptions exist at start-up.",
    )
    outbox_poll_s: float = Field(default=1.0, gt=0)
    outbox_max_attempts: int = Field(default=8, ge=1, description="Attempts before `dead`.")
    outbox_timeout_s: float = Field(default=5.0, gt=0, description="Per delivery HTTP timeout.")
    outbox_backoff_base_s: float = Field(default=2.0, gt=0, description="First retry delay.")
    outbox_backoff_max_s: float = Field(default=3600.0, gt=0, description="Retry delay cap.")
    outbox_batch_size: int = Field(default=50, ge=1, description="Events claimed per pass.")

    # abuse limits and privacy (assistant/api/ratelimit.py, assistant/api/limits.py) -------
    rate_limit_per_ip_per_min: int = Field(
        default=120,
        ge=0,
        description="Chat messages (/v1/chat, /v1/chat/stream) per client IP a minute; 0 = off. "
        "Buckets are in memory, per worker process.",
    )
    rate_limit_ip_burst: int = Field(
        default=40, ge=1, description="Messages one IP may send at once before the rate applies."
    )
    rate_limit_per_conversation_per_min: int = Field(
        default=30, ge=0, description="Chat messages per conversation id a minute; 0 = off."
    )
    rate_limit_conversation_burst: int = Field(
        default=15, ge=1, description="Messages one conversation may send at once."
    )
    rate_limit_poll_per_ip_per_min: int = Field(
        default=300,
        ge=0,
        description="GET /v1/conversations/{id} (the widget polls it) per client IP a minute; "
        "0 = off.",
    )
    trust_forwarded_for: bool = Field(
        default=False,
        description="Take the client IP from X-Forwarded-For (only behind a proxy you run, "
        "which sets it); else the socket's peer address.",
    )
    max_body_bytes: int = Field(
        default=64 * 1024,
        ge=0,
        description="Largest request body under /v1/ (webhooks: 1 MB); larger gets 413 before "
        "parsing; 0 = off.",
    )
    store_unredacted: bool = Field(
        default=False,
        description="Also keep the original (unredacted) message texts and the customer's email "
        "and phone slots in SQL. Off: PII is redacted before anything is stored.",
    )

    @field_validator("max_message_chars")
    @classmethod
    def _positive(cls, v: int) -> int:
        if v <= 0:
            raise ValueError("must be positive")
        return v

    # derived paths ------------------------------------------------------------
    @property
    def db_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'assistant.db').resolve()}"

    @property
    def intent_model_dir(self) -> Path:
        return self.intent_model_path or self.data_dir / "models" / "intents" / "current"

    @property
    def sentiment_model_dir(self) -> Path:
        return self.sentiment_model_path or self.data_dir / "models" / "sentiment" / "current"

    @property
    def onnx_cache_dir(self) -> Path:
        return self.data_dir / "cache" / "onnx"

    @property
    def index_dir(self) -> Path:
        return self.index_path or self.data_dir / "index"

    @property
    def demo_dir(self) -> Path:
        return Path(__file__).resolve().parent / "demo"

    @property
    def company_facts_file(self) -> Path:
        return self.company_facts_path or self.demo_dir / "company.json"

    @property
    def intents_catalog_file(self) -> Path:
        return self.intents_catalog_path or self.demo_dir / "intents.json"
