"""IZIN_ENV=production refuses a TEST certificate and insecure settings; migrations only
move forward there."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from pydantic import SecretStr

from bot import guard
from bot.serve import serve
from bot.settings import Environment, Settings
from bot.signing import make_dev_cert
from storage.migrate import DowngradeRefused, downgrade


def _settings(tmp_path: Path, **kw: object) -> Settings:
    return Settings(data_dir=tmp_path / "data", _env_file=None, **kw)  # type: ignore[arg-type, call-arg]


def _fit(tmp_path: Path) -> dict[str, object]:
    p12 = tmp_path / "office.p12"
    make_dev_cert(p12, b"a-long-real-password")
    return {"env": Environment.production, "permit_p12": p12,
            "permit_p12_password": SecretStr("a-long-real-password"),
            "public_base_url": "https://izin.example.go.id"}


def test_production_without_a_certificate_refuses_to_serve(tmp_path: Path) -> None:
    settings = _settings(tmp_path, env=Environment.production)
    with pytest.raises(guard.InsecureSettings) as refused:
        asyncio.run(serve(settings))
    assert any("IZIN_PERMIT_P12 is not set" in p for p in refused.value.problems)
    assert not (tmp_path / "data").exists()  # refused before anything was made


def test_each_insecure_setting_is_named(tmp_path: Path) -> None:
    fit = _fit(tmp_path)
    assert guard.problems(_settings(tmp_path, **fit)) == []
    guard.check(_settings(tmp_path, **fit))  # passes
    cases = {
        "IZIN_PERMIT_P12_PASSWORD": {"permit_p12_password": SecretStr("izin-dev")},
        "IZIN_TELEGRAM_WEBHOOK_SECRET": {"telegram_token": SecretStr("1:x"),
                                         "telegram_webhook_url": "https://h/webhooks/telegram"},
        "IZIN_WHATSAPP_APP_SECRET": {"whatsapp_token": SecretStr("t"),
                                     "whatsapp_verify_token": SecretStr("v")},
        "IZIN_PUBLIC_BASE_URL": {"public_base_url": "http://izin.example.go.id"},
        "IZIN_OFFICE_SECURE_COOKIES": {"office_secure_cookies": False},
        "IZIN_DATABASE_URL": {"database_url": "postgresql+asyncpg://izin:postgres@db/izin"},
        "IZIN_PERMIT_P12_IS_TEST": {"permit_p12_is_test": True},
    }
    for name, change in cases.items():
        found = guard.problems(_settings(tmp_path, **{**fit, **change}))
        assert len(found) == 1 and name in found[0], (name, found)
    # Development accepts all of it.
    guard.check(_settings(tmp_path, permit_p12_password=SecretStr("izin-dev")))


def test_downgrade_refused_in_production(tmp_path: Path) -> None:
    with pytest.raises(DowngradeRefused, match="izin restore"):
        downgrade(f"sqlite+aiosqlite:///{tmp_path / 'x.db'}", "base", production=True)
