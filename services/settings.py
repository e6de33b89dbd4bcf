"""One `Settings` object, read from the environment once and passed down."""

from __future__ import annotations

import secrets
from pathlib import Path

from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="REELGRAPH_", extra="ignore")

    data_dir: Path = Field(default=Path(".reelgraph"))
    database_url: str | None = Field(
        default=None, validation_alias=AliasChoices("DATABASE_URL", "REELGRAPH_DATABASE_URL")
    )
    redis_url: str | None = Field(
        default=None, validation_alias=AliasChoices("REDIS_URL", "REELGRAPH_REDIS_URL")
    )
    secret_key: str | None = None
    public_url: str | None = Field(
        default=None, description="Base URL providers can reach (enables provider webhooks)."
    )
    redis_prefix: str = "reelgraph"

    generation_provider: str = Field(
        default="local",
        validation_alias=AliasChoices("GENERATION_PROVIDER", "REELGRAPH_GENERATION_PROVIDER"),
    )
    replicate_api_token: str | None = Field(
        default=None, validation_alias=AliasChoices("REPLICATE_API_TOKEN")
    )
    replicate_api_base: str = Field(
        default="https://api.replicate.com/v1", validation_alias=AliasChoices("REPLICATE_API_BASE")
    )
    replicate_webhook_secret: str | None = Field(
        default=None, validation_alias=AliasChoices("REPLICATE_WEBHOOK_SECRET")
    )
    xai_api_key: str | None = Field(default=None, validation_alias=AliasChoices("XAI_API_KEY"))
    xai_api_base: str = Field(
        default="https://api.x.ai/v1", validation_alias=AliasChoices("XAI_API_BASE")
    )
    xai_model: str = Field(
        default="grok-4-1-fast-non-reasoning", validation_alias=AliasChoices("XAI_MODEL")
    )
    writer_timeout_seconds: float = Field(
        default=90.0, description="Longest wait for the LLM writing a brief, storyboard or scene."
    )
    provider_concurrency: int = 20
    max_attempts: int = 3
    retry_backoff_seconds: float = 2.0
    poll_initial_seconds: float = 0.25
    poll_max_seconds: float = 5.0
    prediction_deadline: str = "30m"
    run_worker: bool | None = Field(
        default=None, description="Run a worker inside `serve` (default: only without REDIS_URL)."
    )
    reconcile_interval_seconds: int = 30
    reconcile_stale_seconds: float = 60
    combine_timeout_seconds: float = Field(
        default=840.0,
        description="A pair video's join fails with COMBINE_FAILED after this long (the "
        "worker's own limit for the task is a minute more).",
    )
    worker_max_jobs: int = 40
    worker_poll_delay: float = 0.05
    max_upload_bytes: int = 512 * 1024 * 1024
    url_import_seconds: float = Field(
        default=30.0, description="createAssetsFromUrls: time allowed per URL, redirects included."
    )
    url_import_total_seconds: float = Field(
        default=120.0, description="createAssetsFromUrls: time allowed per call, all URLs."
    )
    url_import_allowed_networks: str = Field(
        default="",
        description="createAssetsFromUrls: comma-separated CIDRs it may fetch from although "
        "they are not public (none by default: private, loopback, link-local and metadata "
        "addresses are refused).",
    )
    max_page_size: int = 100
    default_page_size: int = 20
    media_url_ttl_seconds: int = 24 * 3600
    sql_echo: bool = False
    allowed_origins: str = Field(
        default="",
        description="Comma-separated origins whose pages may open a WebSocket (the server's own "
        "origin and public_url's are always allowed; `*` allows any).",
    )
    ws_connection_init_timeout_seconds: float = 5.0
    ws_max_subscriptions_per_connection: int = 50
    ws_keep_alive_seconds: float = 15.0
    live_idle_resync_seconds: float = Field(
        default=10.0,
        description="A live subscription that heard nothing for this long checks the log.",
    )
    live_inbox_limit: int = Field(
        default=1000, description="Events queued per slow subscriber before it refills from the DB."
    )
    eta_sample_size: int = 50
    eta_cache_seconds: float = 60.0
    key_cache_seconds: float = Field(
        default=5.0,
        description="How long an API process trusts a key it has checked (0: check every "
        "request). Revocation reaches every process at once over Redis; this bounds it "
        "when Redis is away.",
    )

    # Hostile input: every document, body and medium is bounded before it costs much.
    max_query_depth: int = Field(default=12, description="Deepest selection a document may nest.")
    max_query_aliases: int = Field(default=50, description="Aliased fields per document.")
    max_fragment_spreads: int = Field(default=200, description="Fragment spreads per document.")
    max_query_tokens: int = Field(default=10_000, description="Lexical tokens per document.")
    max_query_cost: int = Field(
        default=50_000,
        description="Per operation: every field costs 1 times the page sizes of the lists "
        "around it (`first`, else the default page size).",
    )
    introspection: bool = Field(default=True, description="Serve __schema/__type queries.")
    graphiql: bool = Field(default=True, description="Serve GraphiQL at /graphql in a browser.")
    gc_freeze: bool = Field(
        default=True,
        description="Once started, move every object alive to the collector's permanent "
        "generation (gc.freeze), so its collections stop rescanning the modules, the schema "
        "and the mappers on every page, and collect the young generation less often (tests "
        "that start many apps in one process turn it off).",
    )
    verify_plain_execution: bool = Field(
        default=False,
        description="Complete plain fields both ways (graphql-core's and the short path) and "
        "log an error where they differ: slow; the test suite runs with it.",
    )
    max_request_bytes: int = Field(
        default=1024 * 1024, description="Largest JSON or GET GraphQL request (not uploads)."
    )
    max_webhook_bytes: int = Field(default=1024 * 1024, description="Largest webhook body.")
    max_image_pixels: int = Field(
        default=50_000_000, description="Largest image (width x height) accepted or decoded."
    )
    rate_limits: bool = Field(default=True, description="Enforce the rate limits below.")
    rate_limit_requests: str = Field(
        default="1200/minute", description="HTTP requests and WebSocket connects per API key."
    )
    rate_limit_anonymous: str = Field(
        default="120/minute",
        description="Requests per client address without a valid API key (IPv6: per /64).",
    )
    rate_limit_images: str = Field(default="10/minute", description="Image launches per key.")
    rate_limit_videos: str = Field(
        default="5/minute", description="Video launches (clips, pair videos) per key."
    )
    rate_limit_audio: str = Field(default="10/minute", description="Audio launches per key.")
    rate_limit_uploads: str = Field(default="60/minute", description="Uploads per key.")
    rate_limit_writing: str = Field(
        default="30/minute",
        description="Calls to the writer (parse or refine a brief, write a storyboard, "
        "regenerate a scene) per key.",
    )
    worker_heartbeat_seconds: float = Field(
        default=10.0, description="How often a worker says it is alive."
    )
    worker_dead_seconds: float = Field(
        default=45.0,
        description="A worker silent this long is dead: its sub-jobs resume on another.",
    )

    @field_validator("data_dir")
    @classmethod
    def _absolute_data_dir(cls, value: Path) -> Path:
        """Made absolute once, here: a relative default would follow the process's cwd."""
        return value.expanduser().resolve()

    @property
    def embedded(self) -> bool:
        """True when no production database is configured (the newcomer's default)."""
        return self.database_url is None

    @property
    def worker_in_process(self) -> bool:
        return self.run_worker if self.run_worker is not None else self.redis_url is None

    @property
    def sqlalchemy_url(self) -> str:
        return async_database_url(self.database_url, self.data_dir)

    @property
    def storage_dir(self) -> Path:
        return self.data_dir / "media"

    def signing_key(self) -> bytes:
        """The media-URL signing key: configured, or created once in the data dir."""
        if self.secret_key:
            return self.secret_key.encode()
        path = self.data_dir / "secret.key"
        if not path.exists():
            self.data_dir.mkdir(parents=True, exist_ok=True)
            path.write_text(secrets.token_urlsafe(32))
            path.chmod(0o600)
        return path.read_text().strip().encode()


def async_database_url(database_url: str | None, data_dir: Path) -> str:
    """Map a user-facing URL to the async driver SQLAlchemy should use."""
    if database_url is None:
        return f"sqlite+aiosqlite:///{(data_dir / 'reelgraph.db').resolve()}"
    for prefix in ("postgres://", "postgresql://", "postgresql+psycopg://"):
        if database_url.startswith(prefix):
            return "postgresql+asyncpg://" + database_url[len(prefix) :]
    if database_url.startswith("sqlite://"):
        return "sqlite+aiosqlite://" + database_url[len("sqlite://") :]
    return database_url
