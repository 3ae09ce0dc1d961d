"""All configuration, from IZIN_* environment variables (and a .env file)."""

from __future__ import annotations

import logging
from enum import StrEnum
from functools import cached_property
from pathlib import Path

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Environment(StrEnum):
    development = "development"
    production = "production"  # refuses to start with a test certificate or open doors


class LogFormat(StrEnum):
    plain = "plain"
    json = "json"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="IZIN_", env_file=".env", extra="ignore")

    env: Environment = Environment.development
    data_dir: Path = Path("var")
    # Default: an SQLite file in data_dir. PostgreSQL: postgresql+asyncpg://user@host/db
    database_url: str | None = None
    # PostgreSQL connections per process, all kept open (no overflow: connections opened
    # and closed per request cost more CPU than the requests; busy requests queue).
    db_pool_size: int = Field(default=10, ge=1, le=100)
    catalog_dir: Path | None = None
    calendar_overrides: Path | None = None

    max_upload_mb: float = Field(default=10, gt=0)
    max_image_pixels: int = Field(default=40_000_000, gt=0)
    # The document pre-check of photographed scans (on/off per deployment) and its
    # process pool (1-2 workers: OCR is CPU-bound and the chat must stay fast).
    precheck: bool = True
    precheck_workers: int = Field(default=1, ge=1, le=2)

    http_host: str = "127.0.0.1"
    http_port: int = 8000
    public_base_url: str = "http://127.0.0.1:8000"

    telegram_token: SecretStr | None = None
    telegram_api_base: str | None = None
    telegram_webhook_url: str | None = None
    telegram_webhook_secret: SecretStr | None = None
    telegram_rate_per_second: float = Field(default=30, gt=0)  # Bot API: ~30 messages/s
    telegram_per_chat_interval: float = Field(default=1.0, ge=0)  # ~1 message/s per chat
    telegram_staff_chat_id: str | None = None  # new/escalated complaints are posted here

    whatsapp_token: SecretStr | None = None
    whatsapp_phone_number_id: str | None = None
    whatsapp_app_secret: SecretStr | None = None
    whatsapp_verify_token: SecretStr | None = None
    whatsapp_api_base: str = "https://graph.facebook.com/v21.0"
    whatsapp_rate_per_second: float = Field(default=80, gt=0)  # Cloud API default per number
    whatsapp_per_chat_interval: float = Field(default=1.0, ge=0)
    # Seconds a message waits for an earlier one (by timestamp) still in another webhook.
    whatsapp_reorder_window: float = Field(default=2.0, ge=0, le=30)
    # Approved templates per notification type; default bot/channels/whatsapp/templates.yaml
    whatsapp_templates: Path | None = None

    # Reminder schedule and texts (default: notifications/reminders.yaml).
    reminders_config: Path | None = None

    # The office's signing certificate (PKCS#12). Unset: a self-signed test certificate
    # is made in data_dir on first use, and every permit it signs says TEST.
    permit_p12: Path | None = None
    permit_p12_password: SecretStr = SecretStr("izin-dev")
    permit_p12_is_test: bool = False

    # Back office: session length; Secure cookies (None: when the request is https).
    office_session_hours: float = Field(default=8, gt=0)
    office_secure_cookies: bool | None = None

    # Raw inbound payloads (they may hold a NIK) are cleared this many days after receipt.
    inbound_payload_retention_days: float = Field(default=30, gt=0)

    # /readyz: a background loop silent longer than this, or a due outbox row older than
    # this, makes the process not ready (503).
    ready_heartbeat_seconds: float = Field(default=60, gt=0)
    ready_outbox_lag_seconds: float = Field(default=300, gt=0)

    # Any case ("warning", "INFO"); an unknown name stops the command at start.
    log_level: str = "INFO"
    log_format: LogFormat = LogFormat.plain

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        name = value.strip().upper()
        if name not in logging.getLevelNamesMapping() or name == "NOTSET":
            raise ValueError(f"unknown log level {value!r}: use DEBUG, INFO, WARNING, "
                             "ERROR or CRITICAL")
        return name
    # The terminal chat saves documents and images the bot sends here (default under
    # data_dir) and prints their path.
    chat_downloads: Path | None = None

    @cached_property
    def db_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'izin.db').resolve()}"

    @property
    def files_dir(self) -> Path:
        return self.data_dir / "files"

    @property
    def chat_downloads_dir(self) -> Path:
        return self.chat_downloads or self.data_dir / "chat-downloads"

    @property
    def dev_cert_path(self) -> Path:
        return self.data_dir / "dev-signing.p12"

    @property
    def max_upload_bytes(self) -> int:
        return int(self.max_upload_mb * 1024 * 1024)
