"""Settings read from SLUICE_* environment variables (pydantic-settings)."""

from __future__ import annotations

import re
from functools import cached_property
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from sluice.domain.errors import ConfigurationError
from sluice.domain.flow_specs import QUEUE_NAME_PATTERN
from sluice.lake.location import IntegerEncoding, LakeLocation, lake_location

BROKER_SCHEMES = frozenset({"redis", "rediss", "amqp", "amqps", "pyamqp"})


class Settings(BaseSettings):
    """Everything an operator can set. Secrets fail closed: outside the embedded mode
    (a SQLite file in the data dir) the signing and encryption keys must be given."""

    model_config = SettingsConfigDict(env_prefix="SLUICE_", extra="ignore")

    data_dir: Path = Field(default=Path(".sluice"))
    database_url: str | None = None
    # Comma-separated Fernet keys; the first encrypts, all decrypt (rotation by key list).
    secret_keys: str | None = None
    # HMAC key that signs bearer tokens.
    token_signing_key: str | None = None
    token_ttl_seconds: int = 86_400
    # Folders that local-file connections may read from (comma-separated).
    local_file_roots: str | None = None
    # Comma-separated hosts, addresses or CIDR networks that connections may reach although
    # the host guard refuses them by default (link-local, cloud metadata, Sluice's own
    # metadata database). Example: "169.254.0.0/16,db.internal".
    connector_allowed_hosts: str | None = None
    max_body_bytes: int = 1_048_576
    default_page_limit: int = 50
    max_page_limit: int = 1000
    log_level: str = "info"
    # Local workers inside `sluice serve` (0: none, runs go to `sluice worker` processes).
    workers: int = Field(default=2, ge=0, le=64)
    # Whether `sluice serve` also runs a scheduler (it stands by unless it is the leader).
    scheduler: bool = True
    scheduler_interval_seconds: float = Field(default=5.0, gt=0)
    # How long a worker's claim on a run lasts without a heartbeat; after it, another worker
    # takes the run over (a worker that died mid-run is detected this fast).
    lease_seconds: float = Field(default=60.0, ge=1)
    # Prometheus metrics at GET /metrics, unauthenticated like most exporters: keep the port
    # on an internal network, or turn them off.
    metrics_enabled: bool = True
    # With a token, GET /metrics needs `Authorization: Bearer <token>` and also shows the
    # per-flow series (flow ids, names, orgs, sandboxes); without one, it shows none of them.
    metrics_token: str | None = None
    # Whether this process delivers webhooks (`sluice serve` and `sluice scheduler`); any
    # number of processes may, they share the deliveries through claims.
    webhook_delivery: bool = True
    # A receiver must answer within this; a slower one counts as a failed attempt.
    webhook_timeout_seconds: float = Field(default=5.0, gt=0, le=60)
    # Attempts per delivery before it is marked failed; retries wait backoff, 2x, 4x, ...
    webhook_max_attempts: int = Field(default=10, ge=1, le=100)
    webhook_backoff_seconds: float = Field(default=10.0, gt=0)
    webhook_backoff_max_seconds: float = Field(default=3600.0, gt=0)
    webhook_poll_seconds: float = Field(default=1.0, gt=0)
    # Finished deliveries (and their events) are kept this long for the delivery log.
    webhook_retention_days: float = Field(default=7.0, gt=0)
    # Who executes runs: `local` (worker threads of `sluice serve` / `sluice worker`, polling
    # the metadata database) or `celery` (tasks through SLUICE_BROKER_URL to `sluice worker`).
    executor: Literal["local", "celery"] = "local"
    # The Celery broker: redis://host:6379/0 or amqp://user:password@host:5672//.
    broker_url: SecretStr | None = None
    # `sluice worker` with the Celery executor: runs at once, queues served (comma-separated),
    # and messages reserved per run slot (1: a long run holds no other run hostage).
    worker_concurrency: int = Field(default=2, ge=1, le=256)
    worker_queues: str = "sluice"
    worker_prefetch: int = Field(default=1, ge=1, le=100)
    # How often the leading scheduler re-sends the tasks of runs nobody took (Celery executor).
    sweep_interval_seconds: float = Field(default=15.0, gt=0)
    # Where datasets live: a folder (default `<data dir>/lake`), s3://bucket/prefix,
    # az://container/prefix or abfss://container@account.dfs.core.windows.net/prefix.
    lake_uri: str | None = None
    # A JSON object of delta-rs storage options for the lake (endpoint, region, keys, ...);
    # the standard AWS_* / AZURE_* variables are read as delta-rs itself reads them.
    lake_storage_options: SecretStr | None = None
    # S3 without conditional writes loses commits when two writers race: refused unless set.
    lake_allow_unsafe_rename: bool = False
    # How datasets' Parquet files encode integers, timestamps, dates and decimals: `delta`
    # (DELTA_BINARY_PACKED: smaller files, less CPU) or `plain`, for readers that know only
    # PLAIN and dictionary pages (Spark before 3.3 with its vectorized reader).
    lake_integer_encoding: IntegerEncoding = "delta"

    @field_validator("data_dir")
    @classmethod
    def _absolute_data_dir(cls, value: Path) -> Path:
        return value.expanduser().resolve()

    @cached_property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_dir / 'sluice.db'}"

    @property
    def is_embedded(self) -> bool:
        return self.resolved_database_url.startswith("sqlite")

    @property
    def allowed_file_roots(self) -> list[Path]:
        if self.local_file_roots:
            return [Path(p).expanduser().resolve() for p in self.local_file_roots.split(",") if p]
        return [self.data_dir / "files"]

    @property
    def connector_allowed_host_list(self) -> tuple[str, ...]:
        raw = self.connector_allowed_hosts or ""
        return tuple(h.strip() for h in raw.split(",") if h.strip())

    @property
    def lake_dir(self) -> Path:
        """The embedded lake's folder (the default lake)."""
        return self.data_dir / "lake"

    @cached_property
    def lake(self) -> LakeLocation:
        """The lake datasets are written to, with its storage options (checked once; every
        process reads it at start, so an unusable or unsafe lake stops it there). Raises
        `LakeConfigurationError`, whose message names settings, never their values."""
        options = self.lake_storage_options
        return lake_location(
            self.lake_uri or str(self.lake_dir),
            options.get_secret_value() if options is not None else None,
            allow_unsafe_rename=self.lake_allow_unsafe_rename,
            integer_encoding=self.lake_integer_encoding,
        )

    @property
    def credentials_path(self) -> Path:
        return self.data_dir / "credentials.json"

    def celery_broker_url(self) -> str:
        """The broker URL, checked (Celery executor). The error names the setting and the
        scheme, never the URL (it carries the broker's password)."""
        url = self.broker_url.get_secret_value().strip() if self.broker_url else ""
        if not url:
            raise ConfigurationError(
                "SLUICE_BROKER_URL must be set when SLUICE_EXECUTOR=celery "
                "(redis://host:6379/0 or amqp://user:password@host:5672//)."
            )
        scheme = urlsplit(url).scheme.lower() if "://" in url else ""
        if scheme not in BROKER_SCHEMES:
            raise ConfigurationError(
                f"SLUICE_BROKER_URL scheme '{scheme}' is not supported; use redis://, "
                "rediss://, amqp:// or amqps://."
            )
        return url

    def queue_list(self, queues: str | None = None) -> tuple[str, ...]:
        """The queues a Celery worker serves (`queues` or SLUICE_WORKER_QUEUES), checked."""
        names = tuple(q.strip() for q in (queues or self.worker_queues).split(",") if q.strip())
        bad = [q for q in names if not re.fullmatch(QUEUE_NAME_PATTERN, q)]
        if not names or bad:
            raise ConfigurationError(
                "Worker queues are comma-separated names of 1 to 64 letters, digits, '_', "
                f"'.' or '-'; got {', '.join(repr(q) for q in bad) or 'none'}."
            )
        return names


def load_settings() -> Settings:
    return Settings()
