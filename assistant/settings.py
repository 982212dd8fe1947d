"""Typed settings, read once from the environment (prefix ``CSA_``) and passed down."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator
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
        0.35, description="Cosine below which no source is grounded."
    )
    negative_handoff_score: float = Field(
        default=0.8, description="Sentiment score counted as angry."
    )
    max_message_chars: int = 4000
    retrieval_k: int = 5

    # generator
    generator: str = Field(default="template", description="template | transformers | openai")

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
