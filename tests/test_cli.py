"""The `izin` command line, run as a real process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.journeys import DATA_LINES

IZIN = [sys.executable, "-m", "bot.cli"]


def izin(*args: str, cwd: Path, stdin: str | None = None,
         env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, "IZIN_DATA_DIR": str(cwd / "var"), **(env or {})}
    full_env.pop("IZIN_DATABASE_URL", None)
    return subprocess.run([*IZIN, *args], cwd=cwd, input=stdin, capture_output=True,
                          text=True, timeout=120, env=full_env, check=False)


def test_catalog_list_names_the_five_seed_standards(tmp_path: Path) -> None:
    out = izin("catalog", "list", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    rows = {tuple(line.split()[:2]) for line in out.stdout.splitlines()}
    assert rows == {("lubuklinggau", "okupasi-terapis"), ("metro", "okupasi-terapis"),
                    ("pekanbaru", "okupasi-terapis"), ("purwakarta", "okupasi-terapis"),
                    ("purwakarta", "perekam-medis")}


def test_catalog_show_json_has_the_documented_keys(tmp_path: Path) -> None:
    out = izin("catalog", "show", "pekanbaru", "okupasi-terapis", "--json", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["region"] == "pekanbaru" and data["profession"] == "okupasi-terapis"
    assert data["product"] == "Surat izin kerja okupasi terapis"
    assert data["deadline"]["days"] == 2 and data["deadline"]["unit"] == "working"
    assert data["fee_idr"] == 0 and data["survey_before_download"] is False
    assert all({"code", "title"} <= set(r) for r in data["requirements"])
    assert [s["role"] for s in data["procedure"]][6] == "head_of_office"


def test_catalog_show_unknown_fails(tmp_path: Path) -> None:
    out = izin("catalog", "show", "atlantis", "okupasi-terapis", cwd=tmp_path)
    assert out.returncode == 1 and "no standard for atlantis" in out.stderr


def test_catalog_validate_reports_a_bad_file(tmp_path: Path) -> None:
    good = izin("catalog", "validate", cwd=tmp_path)
    assert good.returncode == 0 and "5 service standards are valid" in good.stdout
    bad_dir = tmp_path / "standards" / "contoh"
    bad_dir.mkdir(parents=True)
    (bad_dir / "okupasi-terapis.yaml").write_text("region: {slug: contoh}\n")
    out = izin("catalog", "validate", cwd=tmp_path,
               env={"IZIN_CATALOG_DIR": str(tmp_path / "standards")})
    assert out.returncode == 1
    assert "contoh/okupasi-terapis.yaml" in out.stderr and "region.name" in out.stderr


@pytest.mark.skipif(bool(os.environ.get("IZIN_TEST_DATABASE_URL")),
                    reason="the CLI chat runs on its embedded SQLite default")
def test_izin_chat_with_piped_input_submits_an_application(
    tmp_path: Path, samples: dict[str, Path]
) -> None:
    script = ["halo", "1", "Ajukan", "Metro", "Okupasi", "Mulai", *DATA_LINES,
              f"/upload {samples['pdf']}", "Kirim permohonan", "Status"]
    out = izin("chat", "--user", "demo", cwd=tmp_path, stdin="\n".join(script) + "\n")
    assert out.returncode == 0, out.stderr
    assert "Nomor registrasi: MET-" in out.stdout
    assert "Tahap: Pemeriksaan berkas" in out.stdout
    # The same database, a second process: the applicant's status is still there.
    again = izin("chat", "--user", "demo", cwd=tmp_path, stdin="Status\n")
    assert "MET-" in again.stdout and (tmp_path / "var" / "izin.db").exists()


def test_dev_cert_is_made_once(tmp_path: Path) -> None:
    out = izin("dev-cert", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "var" / "dev-signing.p12").stat().st_mode & 0o077 == 0  # owner only
    again = izin("dev-cert", cwd=tmp_path)
    assert again.returncode == 1 and "not overwritten" in again.stderr


def test_ikm_report_and_permit_commands_answer_clearly(tmp_path: Path) -> None:
    out = izin("ikm", "report", "--region", "metro", "--from", "2026-01-01",
               "--to", "2026-12-31", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "respondents: 0 of 0 required" in out.stdout
    assert "no survey answers" in out.stdout
    bad = izin("ikm", "report", "--region", "atlantis", "--from", "2026-01-01",
               "--to", "2026-12-31", cwd=tmp_path)
    assert bad.returncode == 2 and "unknown region" in bad.stderr
    revoke = izin("permit", "revoke", "503/9999/X", "--reason", "uji coba", "--by", "kadis",
                  cwd=tmp_path)
    assert revoke.returncode == 1 and "no issued permit" in revoke.stderr
    junk = tmp_path / "junk.pdf"
    junk.write_bytes(b"not a pdf at all")
    upload = izin("permit", "upload", "PWK-2611-XXXXXX", str(junk), "--by", "kadis",
                  cwd=tmp_path)
    assert upload.returncode == 1 and "refused" in upload.stderr


def test_staff_add_with_positions_and_a_refused_one(tmp_path: Path) -> None:
    pw = "rahasia-kantor-1\n"
    out = izin("staff", "add", "sekr.pku", "--role", "verifier", "--region", "pekanbaru",
               "--name", "Wati", "--position", "sekretaris", "--position", "jf_ahli_madya",
               "--nip", "198001012005010004", "--password-stdin", cwd=tmp_path, stdin=pw)
    assert out.returncode == 0, out.stderr
    assert "positions sekretaris, jf_ahli_madya" in out.stdout
    out = izin("staff", "add", "kasir.pku", "--role", "verifier", "--region", "pekanbaru",
               "--name", "Kasir", "--position", "kasir", "--password-stdin", cwd=tmp_path,
               stdin=pw)
    assert out.returncode == 1 and "Jabatan tidak dikenal di wilayah ini: kasir" in out.stderr
    listed = izin("staff", "list", cwd=tmp_path).stdout
    assert "[sekretaris, jf_ahli_madya]  NIP 198001012005010004" in listed
    assert "kasir.pku" not in listed
