"""How long the desk's heavier pages take with many rows: the ticket list, the complaint
book and its CSV, the monthly report, the IKM page and CSV.

    .venv/bin/python bench/office_desk.py [--rows 1000 5000] [--repeat 5]

Seeds ROWS complaints (all in one month, a third anonymous) and ROWS survey answers
(each with its application) for Metro into a fresh SQLite file, signs a complaint
officer in, and times each GET through the real HTTP app (httpx's ASGI transport, no
network). Prints the median and the worst of REPEAT requests per page.
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import statistics
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # runnable as a plain script from anywhere

from bot.composition import build  # noqa: E402
from bot.settings import Settings  # noqa: E402
from licensing.skm import ELEMENT_KEYS, load_skm  # noqa: E402
from storage.models import Applicant, Application, Complaint, SurveyResponse  # noqa: E402
from tests.office_client import Browser, make_staff  # noqa: E402

PAGES = ["/office/complaints", "/office/complaints?overdue=1", "/office/complaint-book",
         "/office/complaint-book.csv", "/office/complaint-report?month=2026-11",
         "/office/ikm?start=2026-11-01&end=2026-11-30",
         "/office/ikm.csv?start=2026-11-01&end=2026-11-30"]


async def seed(app: object, rows: int) -> None:
    skm = load_skm()
    start = datetime(2026, 11, 2, 3, 0, tzinfo=UTC)
    async with app.sessions() as s, s.begin():  # type: ignore[attr-defined]
        for n in range(rows):
            at = start + timedelta(minutes=7 * n % (60 * 24 * 25))
            who = Applicant(channel="console", external_id=f"bench-{n}", created_at=at)
            s.add(who)
            await s.flush()
            a = Application(reg_no=f"MTR-B{n:06d}", applicant_id=who.id, region="metro",
                            profession="okupasi-terapis", full_name=f"Pemohon {n}",
                            nik="3201015701900001", phone="081234567890",
                            practice_place="Klinik", step_code="selesai", step_since=at,
                            status="issued", submitted_at=at)
            s.add(a)
            await s.flush()
            s.add(SurveyResponse(
                application_id=a.id, region="metro", profession="okupasi-terapis",
                submitted_at=at, profile={q.key: q.options[n % len(q.options)].key
                                          for q in skm.profile},
                answers={k: 1 + (n + i) % 4 for i, k in enumerate(ELEMENT_KEYS)}))
            s.add(Complaint(
                ticket_no=f"ADU-MTR-B{n:06d}", applicant_id=who.id, region="metro",
                profession="okupasi-terapis", reg_no=a.reg_no, about="application",
                category="time", kind="complaint", anonymous=n % 3 == 0,
                complainant_name=None if n % 3 == 0 else f"Pengadu {n}", lang="id",
                proposed_grade=("ringan", "sedang", "berat")[n % 3],
                grade=("ringan", "sedang", None)[n % 3], level=0, status="open",
                filed_at=at, due_on=date(2026, 12, 10),
                level_due_on=date(2026, 11, 20) if n % 3 != 2 else None))


async def one(rows: int, repeat: int) -> list[tuple[int, str, float, float]]:
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp) / "data",  # type: ignore[call-arg]
                            database_url=f"sqlite+aiosqlite:///{tmp}/bench.db",
                            _env_file=None)
        app = await build(settings)
        app.runtime.clock = lambda: datetime(2026, 11, 30, 3, 0, tzinfo=UTC)
        try:
            await seed(app, rows)
            await make_staff(app, "adu.metro", "complaint_officer", "metro")
            out = []
            async with Browser(app) as b:
                await b.login("adu.metro")
                for path in PAGES:
                    times = []
                    for _ in range(repeat):
                        t0 = time.perf_counter()
                        res = await b.http.get(path)
                        times.append(time.perf_counter() - t0)
                        assert res.status_code == 200, (path, res.status_code)
                    out.append((rows, path, statistics.median(times) * 1000,
                                max(times) * 1000))
            return out
        finally:
            await app.close()


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, nargs="+", default=[1000, 5000])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    print(f"machine: {platform.machine()}, {platform.python_implementation()} "
          f"{platform.python_version()}, {platform.system()} {platform.release()}")
    print("| rows | page | median ms | worst ms |")
    print("|-----:|------|----------:|---------:|")
    for rows in args.rows:
        for n, path, med, worst in await one(rows, args.repeat):
            print(f"| {n} | `{path.removeprefix('/office')}` | {med:.1f} | {worst:.1f} |")


if __name__ == "__main__":
    asyncio.run(main())
