"""The back office under a realistic load: queue page, file page and the file check.

    .venv/bin/python bench/office_queue.py [--files 2000] [--db sqlite|URL]

Seeds N submitted Pekanbaru files (nine scans each) spread over the region's office
steps, then, through the real HTTP app (httpx ASGI transport, in process): the front
office's queue page (20 loads), one file's page (50 loads), and the front office
accepting every scan of 50 files (each: page load + POST + the file moving on with its
receipt and step-change messages). Prints the latencies and the machine.
`--db` other than sqlite is a database URL whose public schema is dropped and recreated.
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import re
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # runnable as a plain script from anywhere

from bench.journeys import _fresh_postgres, _percentile  # noqa: E402
from bot.composition import build  # noqa: E402
from bot.settings import Settings  # noqa: E402
from storage.models import Applicant, Application, ApplicationDocument, Blob  # noqa: E402
from tests.office_client import Browser, make_staff  # noqa: E402
from tests.samples import make_pdf  # noqa: E402


async def main(files: int, db: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)
        url = None if db == "sqlite" else db
        if url:
            await _fresh_postgres(url)
        app = await build(Settings(data_dir=data, database_url=url, _env_file=None),  # type: ignore[call-arg]
                          migrate=True)
        entry = app.catalog.get("pekanbaru", "okupasi-terapis")
        steps = [s.code for s in entry.office_steps]
        blob = await app.files.ingest_path(make_pdf(data / "scan.pdf"))
        start = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
        async with app.sessions() as s, s.begin():
            s.add(Blob(sha256=blob.sha256, size=blob.size, kind=blob.kind,
                       media_type=blob.media_type, pages=blob.pages, created_at=start))
            for i in range(files):
                person = Applicant(channel="console", external_id=f"b{i}", lang="id",
                                   created_at=start)
                s.add(person)
                await s.flush()
                at = start + timedelta(minutes=i)
                a = Application(
                    reg_no=f"PKU-2611-B{i:05d}", applicant_id=person.id, region="pekanbaru",
                    profession="okupasi-terapis", full_name=f"Pemohon {i}",
                    nik=f"3201{i:012d}", phone="6281234567890", practice_place="RS",
                    lang="id", step_code=steps[0] if i % 2 == 0 else steps[i % len(steps)],
                    step_since=at, status="open", submitted_at=at)
                s.add(a)
                await s.flush()
                for r in entry.uploads:
                    s.add(ApplicationDocument(application_id=a.id, requirement_code=r.code,
                                              blob_sha256=blob.sha256, uploaded_at=at))
        await make_staff(app, "fo.bench", "front_office", "pekanbaru")
        timings: dict[str, list[float]] = {"queue": [], "file page": [], "check files": []}
        async with Browser(app) as b:
            await b.login("fo.bench")
            for _ in range(20):
                t = time.perf_counter()
                res = await b.get("/office/queue")
                timings["queue"].append(time.perf_counter() - t)
            rows = res.text.count("data-reg-no=")
            first = re.findall(r'data-reg-no="([^"]+)"', res.text)
            for _ in range(50):
                t = time.perf_counter()
                await b.get(f"/office/applications/{first[0]}")
                timings["file page"].append(time.perf_counter() - t)
            for reg_no in first[:50]:
                t = time.perf_counter()
                page = await b.get(f"/office/applications/{reg_no}")
                codes = re.findall(r'name="d_([a-z0-9_]+)"', page.text)
                res = await b.post(f"/office/applications/{reg_no}/review", {
                    "step": steps[0], **{f"d_{c}": "accept" for c in codes}})
                assert res.status_code == 303, res.text
                timings["check files"].append(time.perf_counter() - t)
        await app.close()
    print(f"machine: {platform.platform()}, {platform.processor() or platform.machine()}, "
          f"Python {platform.python_version()}, database: {'sqlite' if not url else 'postgresql'}")
    print(f"{files} files, {rows} in the front office's queue")
    print("| request | n | p50 ms | p95 ms | max ms |")
    print("|---|--:|--:|--:|--:|")
    for name, values in timings.items():
        ms = [v * 1000 for v in values]
        print(f"| {name} | {len(ms)} | {statistics.median(ms):.1f} | "
              f"{_percentile(ms, 0.95):.1f} | {max(ms):.1f} |")


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--files", type=int, default=2000)
    p.add_argument("--db", default="sqlite")
    args = p.parse_args()
    asyncio.run(main(args.files, args.db))
