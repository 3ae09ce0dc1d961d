"""deploy/ runs only what exists: every `izin` command line in it parses with the real
CLI, and every IZIN_ variable it sets is a setting."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from bot.cli import parser
from bot.settings import Settings

DEPLOY = Path(__file__).resolve().parents[1] / "deploy"
COMMAND = re.compile(r"(?:^|(?<=[\s/`\"'&;(]))izin( [a-z][^\n`'\";&)]*)")
VARIABLE = re.compile(r"\bIZIN_[A-Z0-9_]+")


def deploy_files() -> list[Path]:
    return sorted(p for p in DEPLOY.rglob("*") if p.is_file())


def commands() -> list[tuple[str, list[str]]]:
    found = []
    for path in deploy_files():
        for m in COMMAND.finditer(path.read_text()):
            args = ["X" if "$" in a else a for a in shlex.split(m.group(1))]
            found.append((f"{path.name}: izin{m.group(1)}", args))
    return found


def test_deploy_has_the_three_paths() -> None:
    names = {p.relative_to(DEPLOY).as_posix() for p in deploy_files()}
    assert {"Dockerfile", "compose.yaml", "Caddyfile", "nginx.conf", "izin.env.example",
            "systemd/izin@.service", "systemd/izin-backup.service",
            "systemd/izin-backup.timer"} <= names
    compose = (DEPLOY / "compose.yaml").read_text()
    assert "app1:" in compose and "app2:" in compose and "postgres:" in compose


def test_every_izin_command_in_deploy_parses() -> None:
    found = commands()
    assert {tuple(a[:2]) for _, a in found} >= {("db", "upgrade"), ("serve",), ("backup", "--out")}
    for where, args in found:
        try:
            parser().parse_args(args)
        except SystemExit:
            pytest.fail(f"{where} is not a command `izin` knows")


def test_every_izin_variable_in_deploy_is_a_setting() -> None:
    fields = {f"IZIN_{name.upper()}" for name in Settings.model_fields}
    named = {(v, p.name) for p in deploy_files() for v in VARIABLE.findall(p.read_text())}
    assert len({v for v, _ in named}) >= 15
    unknown = sorted(f"{v} ({where})" for v, where in named if v not in fields)
    assert unknown == []


def test_the_env_example_is_accepted_in_production_shape(tmp_path: Path) -> None:
    values = dict(line.split("=", 1) for line in (DEPLOY / "izin.env.example").read_text()
                  .splitlines() if line and not line.startswith("#"))
    settings = Settings(**{k.removeprefix("IZIN_").lower(): v for k, v in values.items() if v},
                        _env_file=None)  # type: ignore[arg-type]
    assert settings.log_level == "INFO" and settings.env.value == "production"
