"""Structured logs: level names in any case, validated at start; JSON lines with the
event's context; NIKs masked."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path

import pytest

from bot.logs import configure
from bot.settings import LogFormat, Settings
from service.logctx import bound, set_context

IZIN = [sys.executable, "-m", "bot.cli"]


def test_level_names_in_any_case_and_unknown_refused() -> None:
    assert Settings(log_level="warning", _env_file=None).log_level == "WARNING"  # type: ignore[call-arg]
    assert Settings(log_level=" Debug ", _env_file=None).log_level == "DEBUG"  # type: ignore[call-arg]
    with pytest.raises(ValueError, match="unknown log level"):
        Settings(log_level="loud", _env_file=None)  # type: ignore[call-arg]


def test_the_cli_starts_with_a_lower_case_level_and_stops_on_a_bad_one(tmp_path: Path) -> None:
    env = {"IZIN_DATA_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"}
    ok = subprocess.run([*IZIN, "catalog", "validate"], env={**env, "IZIN_LOG_LEVEL": "warning"},
                        capture_output=True, text=True, timeout=120, check=False)
    assert ok.returncode == 0, ok.stderr
    bad = subprocess.run([*IZIN, "catalog", "validate"], env={**env, "IZIN_LOG_LEVEL": "loud"},
                         capture_output=True, text=True, timeout=120, check=False)
    assert bad.returncode == 2
    assert "IZIN_LOG_LEVEL" in bad.stderr and "Traceback" not in bad.stderr


def test_json_lines_carry_the_context_and_mask_niks(capsys: pytest.CaptureFixture[str]) -> None:
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    try:
        configure(Settings(log_format=LogFormat.json, _env_file=None))  # type: ignore[call-arg]
        log = logging.getLogger("izin.test")
        with bound(request_id="req-1", reg_no="PWK-2026-ABC123"):
            set_context(channel="telegram", chat_key="telegram:42")
            log.info("applicant typed %s", "3201015701900001")
            log.info('"GET /webhooks/whatsapp?hub.mode=subscribe&hub.verify_token=s3cr3t-v '
                     'HTTP/1.1" 200')
            log.warning("POST https://api.telegram.org/bot123456:%s/sendMessage failed",
                        "AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw")
            try:
                raise ValueError("bad NIK 3201015701900001")
            except ValueError:
                log.exception("handling failed")
        lines = [json.loads(x) for x in capsys.readouterr().err.splitlines()]
    finally:
        set_context(channel=None, chat_key=None)
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
    first, verify, token, second = lines
    assert "s3cr3t-v" not in verify["message"] and "hub.verify_token=<secret>" in verify["message"]
    assert "AAHdqTcv" not in token["message"] and "bot<token>/sendMessage" in token["message"]
    assert first["message"] == "applicant typed 3201********0001"
    assert (first["channel"], first["chat_key"], first["reg_no"], first["request_id"]) == (
        "telegram", "telegram:42", "PWK-2026-ABC123", "req-1")
    assert first["level"] == "INFO" and first["logger"] == "izin.test"
    assert "3201015701900001" not in json.dumps(second)
    assert "ValueError" in second["message"]
