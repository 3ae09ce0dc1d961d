"""The terminal chat's own behaviour (issue 18): `/upload` answers, notices printed in
the order queued, an unrequested file not kept, library logs kept out of the chat."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select

from bot.composition import App
from conversations.types import Choice, OutMessage
from service.outbox import PRIORITY_NOTICE, enqueue
from storage.models import Applicant, Blob
from tests.journeys import run_script
from tests.samples import pdf_bytes
from tests.test_cli import izin

FIRST = ["halo", "1"]


async def test_upload_usage_missing_path_folder_and_a_path_with_spaces(
    app: App, samples: dict[str, Path], tmp_path: Path
) -> None:
    spaced = tmp_path / "scan saya" / "ijazah 2024.pdf"
    spaced.parent.mkdir()
    spaced.write_bytes(samples["pdf"].read_bytes())
    out = await run_script(app, "u", [
        *FIRST, "Ajukan", "Purwakarta", "Okupasi", "Mulai", "Siti Aminah",
        "3201015701900001", "0812 3456 7890", "RSUD Bayu Asih", "3201 5 2 1 24-1234567",
        "/upload", f"/upload {tmp_path}/nothing-here.pdf", f"/upload {tmp_path}",
        f"/upload {spaced}", f'/upload "{spaced}"'])
    assert "Cara mengirim berkas: /upload PATH" in out
    assert f"Berkas tidak ditemukan di komputer ini: {tmp_path}/nothing-here.pdf" in out
    assert f"{tmp_path} adalah folder, bukan berkas" in out
    assert "tidak dapat diunduh dari aplikasi chat" not in out
    assert "belum memahami" not in out
    assert out.count("✅ Diterima: Scan fotokopi ijazah yang dilegalisir (1/6)") == 1
    assert "✅ Diterima: Scan STR-OT yang masih berlaku (2/6)" in out  # quoted works too


async def test_a_notice_waiting_is_printed_before_the_reply_to_what_comes_next(
    app: App, clock: object
) -> None:
    await run_script(app, "n", FIRST)
    async with app.sessions() as s, s.begin():
        applicant = await s.scalar(select(Applicant).where(Applicant.external_id == "n"))
        assert applicant is not None
        for n in range(3):
            enqueue(s, applicant, OutMessage(kind="text", text=f"Pemberitahuan {n}"),
                    now=app.runtime.clock(), priority=PRIORITY_NOTICE)
        enqueue(s, applicant, OutMessage(kind="choices", text="Izin terbit",
                                         choices=(Choice("!survey:PWK-2611-AAAAAA", "Isi"),)),
                now=app.runtime.clock(), priority=PRIORITY_NOTICE)
    out = await run_script(app, "n", ["/status"])
    positions = [out.index(f"Pemberitahuan {n}") for n in range(3)]
    assert positions == sorted(positions)
    assert positions[-1] < out.index("Izin terbit") < out.index("Anda belum memiliki permohonan")


async def test_an_unrequested_file_is_acknowledged_and_not_kept(
    app: App, samples: dict[str, Path]
) -> None:
    out = await run_script(app, "f", [f"/upload {samples['pdf']}", *FIRST,
                                      f"/upload {samples['jpeg']}"])
    assert "Berkas Anda sudah sampai, tetapi belum disimpan" in out
    assert "tidak sedang meminta berkas" in out
    async with app.sessions() as s:
        assert await s.scalar(select(func.count()).select_from(Blob)) == 0
    files = [p for p in app.files.root.rglob("*") if p.is_file()]
    assert files == [], files


def test_library_warnings_go_to_the_log_file_not_into_the_chat(tmp_path: Path) -> None:
    """pypdf warns "EOF marker not found" for a truncated PDF; a real `izin chat`."""
    data = pdf_bytes("x")
    broken = tmp_path / "tanpa eof.pdf"
    broken.write_bytes(data[: data.rfind(b"%%EOF")])
    lines = ["halo", "1", "Ajukan", "Purwakarta", "Okupasi", "Mulai", "Siti Aminah",
             "3201015701900001", "0812 3456 7890", "RSUD Bayu Asih", "3201 5 2 1 24-12345",
             f"/upload {broken}"]
    out = izin("chat", "--user", "w", cwd=tmp_path, stdin="\n".join(lines) + "\n")
    assert out.returncode == 0, out.stderr
    screen = out.stdout + out.stderr
    assert "> /upload" in screen
    assert "EOF marker" not in screen and "WARNING" not in screen
    assert "EOF marker not found" in (tmp_path / "var" / "chat.log").read_text()
