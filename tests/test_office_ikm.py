"""The IKM page (issue 6): its numbers are service.ikm.report's for a seeded set of
surveys (per element, weighted, IKM and grade, profile counts, respondents against the
Krejcie-Morgan sample), one SVG bar per element, filters, and a CSV export identical
to `izin ikm report --csv` run as a real process on the same database."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from bot.composition import App
from licensing.skm import ELEMENT_KEYS, load_skm
from service import ikm
from storage.models import Applicant, Application, SurveyResponse
from tests.conftest import Clock
from tests.office_client import Browser, make_staff

# Answers per respondent (U1..U9); chosen so that NRRs need rounding (e.g. 10/3 = 3.33).
PLANS = [
    [4, 4, 3, 4, 3, 4, 4, 3, 4],
    [3, 4, 3, 3, 3, 4, 4, 2, 4],
    [4, 3, 3, 4, 2, 4, 3, 3, 3],
    [2, 3, 4, 4, 3, 3, 4, 3, 4],
    [4, 4, 4, 3, 3, 4, 4, 4, 4],
    [3, 2, 3, 4, 4, 3, 3, 3, 2],
]


async def seed(app: App) -> None:
    """Metro: 6 surveys in November (one with an incomplete profile), 1 in October,
    9 applicants in November in all (3 never answered); one Pekanbaru survey."""
    skm = load_skm()
    nov = datetime(2026, 11, 10, 3, 0, tzinfo=UTC)
    async with app.sessions() as s, s.begin():
        rows: list[tuple[str, datetime, list[int] | None, int]] = [
            *[("metro", nov + timedelta(days=i), plan, i) for i, plan in enumerate(PLANS)],
            *[("metro", nov + timedelta(days=i), None, 0) for i in range(3)],
            ("metro", datetime(2026, 10, 5, 3, 0, tzinfo=UTC), [1] * 9, 0),
            ("pekanbaru", nov, [1] * 9, 0),
        ]
        for n, (region, at, plan, variant) in enumerate(rows):
            who = Applicant(channel="console", external_id=f"ikm-{n}", created_at=at)
            s.add(who)
            await s.flush()
            a = Application(reg_no=f"IKM-{n:04d}", applicant_id=who.id, region=region,
                            profession="okupasi-terapis", full_name=f"Pemohon {n}",
                            nik="3201015701900001", phone="081234567890",
                            practice_place="Klinik", step_code="selesai", step_since=at,
                            status="issued", submitted_at=at)
            s.add(a)
            await s.flush()
            if plan is None:
                continue
            profile = {q.key: q.options[variant % len(q.options)].key for q in skm.profile}
            if n == 5:
                profile.pop("occupation")  # incomplete: counted in the IKM, not the profile
            s.add(SurveyResponse(application_id=a.id, region=region,
                                 profession="okupasi-terapis", submitted_at=at,
                                 profile=profile,
                                 answers=dict(zip(ELEMENT_KEYS, plan, strict=True))))


async def staff_browser(app: App, username: str, role: str, region: str) -> Browser:
    await make_staff(app, username, role, region)
    b = Browser(app)
    assert (await b.login(username)).status_code == 303
    return b


async def test_the_page_shows_the_services_numbers(app: App, clock: Clock) -> None:
    await seed(app)
    rep = await ikm.report(app.sessions, app.catalog, region="metro",
                           start=date(2026, 11, 1), end=date(2026, 11, 30))
    assert rep.result is not None and rep.result.respondents == 6
    b = await staff_browser(app, "fo.metro", "front_office", "metro")  # any role of the region
    try:
        res = await b.get("/office/ikm?start=2026-11-01&end=2026-11-30")
        assert res.status_code == 200
        html = res.text
        nrr = dict(re.findall(r'data-element="([a-z]+)" data-nrr="([0-9.]+)"', html))
        assert {k: Decimal(v) for k, v in nrr.items()} == rep.result.nrr
        assert rep.result.nrr["persyaratan"] == Decimal("3.33")  # 20/6 rounded
        assert f'data-ikm="{rep.result.ikm}"' in html
        assert f'data-grade="{rep.result.grade.letter}"' in html
        assert f"{rep.result.grade.letter} · {rep.result.grade.label}" in html
        assert f">{rep.result.weighted_total_rounded}</th>" in html
        for key in ELEMENT_KEYS:  # weighted per element, exact ninth shown to 3 places
            assert f"{float(rep.result.weighted_nrr[key]):.3f}" in html
        assert html.count("data-bar") == 9
        widths = re.findall(r'<rect x="0" y="3" width="([0-9.]+)" height="16" fill="#[0-9a-f]+"',
                            html)
        # Background bars are 400 wide; each element's bar is NRR/4 of that.
        assert [w for w in widths if w != "400"] == [
            f"{float(rep.result.nrr[k]) * 100:.1f}" for k in ELEMENT_KEYS]
        # Respondents against Krejcie-Morgan for the 9 applicants of November.
        assert rep.sample.population == 9 and rep.sample.required == 9
        assert (f'data-respondents="6" data-required="{rep.sample.required}" '
                f'data-population="9"') in html and "sampel kurang" in html
        # The profile breakdown: 5 complete profiles.
        for key, counts in rep.profiles.items():
            block = html.split(f'data-profile="{key}"')[1].split("</table>")[0]
            shown = dict(re.findall(r'data-option="([a-z0-9_]+)"><td>[^<]*</td><td>(\d+)<',
                                    block))
            assert {k: int(v) for k, v in shown.items()} == counts
        assert sum(rep.profiles["sex"].values()) == 5

        # The period filter: October's one survey of all ones is grade D.
        octo = await b.get("/office/ikm?start=2026-10-01&end=2026-10-31")
        assert 'data-ikm="25.00"' in octo.text and 'data-grade="D"' in octo.text
        # Service filter, and a period without answers.
        assert 'data-respondents="6"' in (await b.get(
            "/office/ikm?start=2026-11-01&end=2026-11-30&profession=okupasi-terapis")).text
        empty = await b.get("/office/ikm?start=2025-01-01&end=2025-01-31")
        assert "data-empty" in empty.text and 'data-respondents="0"' in empty.text
        # Bad input: a clear page.
        assert (await b.get("/office/ikm?start=2026-11-30&end=2026-11-01")).status_code == 400
        assert (await b.get("/office/ikm?start=kemarin")).status_code == 400
        assert (await b.get("/office/ikm?profession=dukun")).status_code == 404
    finally:
        await b.http.aclose()


async def test_regions_stay_apart(app: App, clock: Clock) -> None:
    await seed(app)
    b = await staff_browser(app, "kadis.pku", "head_of_office", "pekanbaru")
    try:
        # A regional account always sees its own region, whatever it asks for.
        res = await b.get("/office/ikm?region=metro&start=2026-11-01&end=2026-11-30")
        assert 'data-respondents="1"' in res.text and 'data-ikm="25.00"' in res.text
        csv_ = await b.get("/office/ikm.csv?region=metro&start=2026-11-01&end=2026-11-30")
        assert csv_.text.strip().endswith("ikm,,25.00")
    finally:
        await b.http.aclose()


async def test_csv_is_the_clis(app: App, clock: Clock, tmp_path: Path) -> None:
    await seed(app)
    b = await staff_browser(app, "adu.metro", "complaint_officer", "metro")
    try:
        for query, args in (
            ("start=2026-11-01&end=2026-11-30", ["--from", "2026-11-01", "--to", "2026-11-30"]),
            ("start=2026-11-01&end=2026-11-30&profession=okupasi-terapis",
             ["--from", "2026-11-01", "--to", "2026-11-30", "--profession",
              "okupasi-terapis"]),
            ("start=2025-01-01&end=2025-01-31", ["--from", "2025-01-01", "--to", "2025-01-31"]),
        ):
            res = await b.get(f"/office/ikm.csv?{query}")
            assert res.status_code == 200 and res.headers["content-type"].startswith("text/csv")
            assert "attachment" in res.headers["content-disposition"]
            env = {**os.environ, "IZIN_DATA_DIR": str(app.settings.data_dir),
                   "IZIN_DATABASE_URL": app.settings.database_url}
            cli = await asyncio.to_thread(
                subprocess.run,
                [sys.executable, "-m", "bot.cli", "ikm", "report", "--region", "metro", *args,
                 "--csv"], capture_output=True, env=env, cwd=tmp_path, timeout=120,
                check=False)
            assert cli.returncode == 0, cli.stderr
            assert res.content == cli.stdout
        rep = await ikm.report(app.sessions, app.catalog, region="metro",
                               start=date(2026, 11, 1), end=date(2026, 11, 30))
        assert rep.result is not None
        lines = res.text.splitlines()
        assert lines[0] == "element,name,nrr" and len(lines) == 11
        # The CLI's table prints the same rows (service.ikm.table) as the page.
        text = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "bot.cli", "ikm", "report", "--region", "metro", "--from",
             "2026-11-01", "--to", "2026-11-30"], capture_output=True, text=True, env=env,
            cwd=tmp_path, timeout=120, check=False)
        assert text.returncode == 0, text.stderr
        assert "respondents: 6 of 9 required (Krejcie-Morgan for 9 applicants)" in text.stdout
        for row in ikm.table(rep):
            assert f"U{row.number} {row.name:<35} {row.nrr:>5}" in text.stdout
        assert f"{'IKM (x 25)':<38} {rep.result.ikm:>5}" in text.stdout
    finally:
        await b.http.aclose()


async def test_the_ikm_page_needs_a_sign_in(app: App) -> None:
    async with Browser(app) as b:
        res = await b.http.get("/office/ikm")
        assert res.status_code == 303 and "/office/login" in res.headers["location"]
        res = await b.http.get("/office/ikm.csv")
        assert res.status_code == 303
