"""All configuration, from IZIN_* environment variables (and a .env file)."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="IZIN_", env_file=".env", extra="ignore")

    data_dir: Path = Path("var")
    # Default: an SQLite file in data_dir. PostgreSQL: postgresql+asyncpg://user@host/db
    database_url: str | None = None
    catalog_dir: Path | None = None
    calendar_overrides: Path | None = None

    max_upload_mb: float = Field(default=10, gt=0)
    max_image_pixels: int = Field(default=40_000_000, gt=0)

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

    log_level: str = "INFO"
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
