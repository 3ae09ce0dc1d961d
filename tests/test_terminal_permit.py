"""In the terminal, applicants whose region asks for the survey first (Purwakarta, both
standards, and Metro) answer it by typing numbers and labels, then receive the signed
permit, which the terminal saves to its downloads folder (issue 18)."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.composition import App
from bot.jobs import run_once
from licensing.skm import load_skm
from storage.models import Application, Permit, SurveyResponse
from tests.conftest import Clock
from tests.journeys import apply_script, run_script
from tests.test_permit_journey import approve

SURVEY_ANSWERS = len(load_skm().profile) + len(load_skm().elements)


# How each journey takes the survey: typing the number right under the notice, the
# label of the notice's choice, or the number of the status' choice.
@pytest.mark.parametrize(("region", "profession", "start"), [
    ("purwakarta", "okupasi-terapis", ["1"]),
    ("purwakarta", "perekam-medis", ["Isi survei"]),
    ("metro", "okupasi-terapis", ["/status", "1"]),
], ids=["pwk-ot-number", "pwk-rm-label", "metro-status"])
async def test_terminal_applicant_takes_the_survey_and_gets_the_signed_pdf(
    app: App, clock: Clock, samples: dict[str, Path], region: str, profession: str,
    start: list[str],
) -> None:
    user = f"{region}-{profession}"
    await run_script(app, user, apply_script(app.catalog.get(region, profession), samples))
    async with app.sessions() as s:
        reg_no = await s.scalar(select(Application.reg_no))
    assert reg_no is not None
    # The main menu was the last thing shown: "1" there would be "Informasi layanan".
    await approve(app, reg_no)
    assert (await run_once(app, now=clock()))["permits_issued"] == 1

    # Every survey question answered by typing: "1" for the profile, "4" (Sangat ...)
    # for the elements.
    answers = ["1"] * len(load_skm().profile) + ["4"] * len(load_skm().elements)
    out = await run_script(app, user, [*start, *answers])
    assert "belum memahami" not in out, out
    assert "Informasi layanan" not in out.split("Survei Kepuasan")[0], out
    # The notice is printed before the answer to what was typed after it.
    assert out.index("telah terbit") < out.index("Survei Kepuasan Masyarakat")

    saved = re.search(r"\[dokumen/document: izin-[\w-]+\.pdf\] → disimpan/saved: (\S+)", out)
    assert saved is not None, out
    path = Path(saved.group(1))
    assert path.parent == app.settings.chat_downloads_dir.resolve()
    async with app.sessions() as s:
        permit = await s.scalar(select(Permit))
        survey = await s.scalar(select(SurveyResponse))
    assert permit is not None and permit.blob_sha256 and permit.delivered_at is not None
    assert survey is not None and set(survey.answers.values()) == {4}
    received = await asyncio.to_thread(path.read_bytes)
    stored = await asyncio.to_thread(app.files.path_for(permit.blob_sha256).read_bytes)
    assert received == stored and received.startswith(b"%PDF")

    # Later, the status offers the permit again, and "1" sends it again.
    out = await run_script(app, user, ["/status", "1"])
    assert "Unduh izin" in out and "disimpan/saved" in out and "belum memahami" not in out
