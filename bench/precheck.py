"""The document pre-check measured on the synthetic corpus (tests/precheck_corpus.py).

Per document kind: field read rates (exact NIK, exact STR number, validity, name,
profession, issuer, letter date) on clean and degraded photos; false alarms on good
documents (a disagreement note when what was typed is what is printed); quality-flag
precision and recall; seconds per page. `--calibrate` prints each quality metric's
distribution on good and bad photos and the threshold that separates them best.
`--chat` measures text-turn latency in the chat while pre-checks run beside it.

    .venv/bin/python bench/precheck.py --per 9 --workers 2
    .venv/bin/python bench/precheck.py --per 9 --calibrate
    .venv/bin/python bench/precheck.py --chat
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import date
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import select

from licensing.precheck import pipeline
from licensing.precheck.kinds import DocumentKind
from tests.precheck_corpus import PROFILES, Sample, corpus
from tests.precheck_corpus import sample as corpus_sample

KINDS = {"ktp": DocumentKind.KTP, "str": DocumentKind.STR, "ijazah": DocumentKind.IJAZAH,
         "letter": DocumentKind.LETTER}
PROFESSIONS = ("Okupasi Terapis", "Perekam Medis")
TODAY = date(2026, 12, 2)
FLAGS = ("blurred", "dark", "small", "cut_off")


def expected_for(s: Sample) -> pipeline.Expected:
    """What an honest applicant would have typed for this document."""
    f = s.fields
    profession = {"Okupasi Terapi": "Okupasi Terapis"}.get(f.get("profession", ""),
                                                           f.get("profession"))
    return pipeline.Expected(nik=f.get("nik"), full_name=f.get("name"),
                             str_number=f.get("str_number"), profession=profession,
                             professions=PROFESSIONS, today=TODAY)


def one(args: tuple[int, Sample]) -> dict[str, Any]:
    i, s = args
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"{i}.jpg"
        path.write_bytes(s.image)
        started = time.perf_counter()
        cpu0 = os.times()
        result = pipeline.run([path], KINDS[s.kind], expected_for(s), Path(tmp) / "out.pdf")
        cpu1 = os.times()
    cpu = (cpu1.user - cpu0.user + cpu1.system - cpu0.system
           + cpu1.children_user - cpu0.children_user
           + cpu1.children_system - cpu0.children_system)
    return {"kind": s.kind, "profile": s.profile, "truth": s.fields, "flags": sorted(s.flags),
            "result": result, "wall": time.perf_counter() - started, "cpu": cpu}


def _rate(hits: int, n: int) -> str:
    return f"{hits}/{n} ({100 * hits / n:.0f}%)" if n else "-"


def field_ok(kind: str, name: str, truth: dict[str, Any], read: dict[str, Any]) -> bool:
    got = read.get(name)
    if name == "str_number":
        return got == truth["str_number"]
    if name == "profession":
        return got == {"Okupasi Terapi": "Okupasi Terapis"}.get(truth["profession"],
                                                                  truth["profession"])
    if name == "name":
        return got is not None and got.upper() == truth["name"]
    if name == "issuer":
        return got is not None and got == truth["issuer"]
    return bool(got == truth[name])


FIELDS = {"ktp": ("nik", "name"), "str": ("str_number", "valid_until"),
          "ijazah": ("profession",), "letter": ("issuer", "date")}


def report(rows: list[dict[str, Any]]) -> None:
    print("\n## Field read rate (exact)")
    print("| kind | field | clean | degraded |")
    print("| --- | --- | --- | --- |")
    for kind, names in FIELDS.items():
        for name in names:
            cells = []
            for profile in ("clean", "degraded"):
                sel = [r for r in rows if r["kind"] == kind and r["profile"] == profile]
                hits = sum(field_ok(kind, name, r["truth"], r["result"]["fields"]) for r in sel)
                cells.append(_rate(hits, len(sel)))
            print(f"| {kind} | {name} | {cells[0]} | {cells[1]} |")
    good = [r for r in rows if r["profile"] in ("clean", "degraded")]
    alarms = [r for r in good if any(c["status"] == "disagree" for c in r["result"]["checks"])]
    print(f"\nFalse alarms (a disagreement on an honest, good photo): "
          f"{_rate(len(alarms), len(good))}")
    for r in alarms[:10]:
        bad = [c["field"] for c in r["result"]["checks"] if c["status"] == "disagree"]
        print(f"  - {r['kind']}/{r['profile']}: {bad}")
    print("\n## Quality flags")
    print("| flag | precision | recall |")
    print("| --- | --- | --- |")
    for flag in FLAGS:
        raised = [r for r in rows if flag in r["result"]["quality"]]
        deserved = [r for r in rows if flag in r["flags"]]
        tp = sum(flag in r["flags"] for r in raised)
        print(f"| {flag} | {_rate(tp, len(raised))} | {_rate(tp, len(deserved))} |")
    flagged_good = [r for r in good if r["result"]["quality"]]
    print(f"\nGood photos with any quality flag: {_rate(len(flagged_good), len(good))}")
    print("\n## Seconds per page (one photo, one worker process incl. Tesseract)")
    print("| kind | wall p50 | wall p90 | CPU p50 |")
    print("| --- | --- | --- | --- |")
    for kind in FIELDS:
        sel = [r for r in rows if r["kind"] == kind]
        walls = sorted(r["wall"] for r in sel)
        cpus = sorted(r["cpu"] for r in sel)
        print(f"| {kind} | {walls[len(walls) // 2]:.2f} | {walls[int(len(walls) * 0.9)]:.2f} "
              f"| {cpus[len(cpus) // 2]:.2f} |")


def calibrate(rows: list[dict[str, Any]]) -> None:
    """For each metric, the threshold that best separates photos made to deserve the
    flag from photos made not to (Youden's J over the observed values)."""
    metrics = {"blurred": "sharpness", "dark": "brightness", "small": "short_side"}
    print("\n## Calibration")
    for flag, metric in metrics.items():
        vals = [(min(p["metrics"][metric] for p in r["result"]["pages"]), flag in r["flags"])
                for r in rows]
        bad = sorted(v for v, b in vals if b)
        ok = sorted(v for v, b in vals if not b)
        best = max((sum(b <= t for b in bad) / len(bad) - sum(o <= t for o in ok) / len(ok), t)
                   for t in sorted({v for v, _ in vals}))
        print(f"{metric}: bad p50={statistics.median(bad):.1f} max={bad[-1]:.1f}; "
              f"good min={ok[0]:.1f} p5={ok[len(ok) // 20]:.1f} p50={statistics.median(ok):.1f}"
              f"; best cut <= {best[1]:.1f} (J={best[0]:.2f})")


# ---- chat latency while pre-checks run -------------------------------------------

TEXTS = ("halo", "1", "bantuan", "menu", "kembali", "/status")


async def _turns(app: Any, n: int, tag: str) -> list[float]:
    """n text turns over 10 chats, one after another; seconds each."""
    from conversations.types import InboundEvent

    out = []
    for i in range(n):
        started = time.perf_counter()
        await app.runtime.handle(channel="console", external_id=f"{tag}-{i % 10}",
                                 platform_id=f"{tag}-{i}",
                                 event=InboundEvent.message(TEXTS[i % len(TEXTS)]))
        out.append(time.perf_counter() - started)
        await asyncio.sleep(0.05)  # people type: ~20 turns a second over the chats
    return out


def _pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))] * 1000


async def chat_bench(turns: int, checks: int, workers: int) -> None:
    from bot.composition import build
    from bot.settings import Settings
    from service.precheck import Status
    from storage.models import Applicant, Blob, Precheck

    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp) / "data", _env_file=None,  # type: ignore[call-arg]
                            precheck=True, precheck_workers=workers)
        app = await build(settings)
        assert app.prechecker is not None
        try:
            await _turns(app, 30, "warm")
            base = await _turns(app, turns, "base")
            # Queue `checks` KTP photos as the chat would (blob + pending row).
            now = app.runtime.clock()
            async with app.sessions() as s, s.begin():
                who = Applicant(channel="console", external_id="photos", created_at=now,
                                lang="id")
                s.add(who)
                await s.flush()
                for i in range(checks):
                    path = Path(tmp) / f"{i}.jpg"
                    path.write_bytes(corpus_sample("ktp", "degraded", 500 + i).image)
                    blob = await app.files.ingest_path(path)
                    if await s.get(Blob, blob.sha256) is None:
                        s.add(Blob(sha256=blob.sha256, size=blob.size, kind=blob.kind,
                                   media_type=blob.media_type, pages=None, width=blob.width,
                                   height=blob.height, created_at=now))
                        await s.flush()
                    s.add(Precheck(applicant_id=who.id, requirement_code=f"ktp{i}",
                                   sources=[blob.sha256], request={"document": "ktp",
                                   "expected": {}, "lang": "id"},
                                   status=Status.PENDING.value, attempts=0, created_at=now))
            stop = asyncio.Event()
            runner = asyncio.create_task(app.prechecker.run_forever(stop))
            started = time.perf_counter()
            loaded = await _turns(app, turns, "load")
            window = time.perf_counter() - started
            async with app.sessions() as s:
                done = len((await s.scalars(select(Precheck.id).where(
                    Precheck.status == Status.DONE.value))).all())
            stop.set()
            await runner
        finally:
            await app.close()
    print(f"\n## Chat latency of text turns (SQLite, {turns} turns, {workers} pre-check "
          f"worker(s), {checks} KTP photos queued)")
    print("| | p50 ms | p99 ms |")
    print("| --- | --- | --- |")
    print(f"| no pre-checks | {_pct(base, 0.5):.1f} | {_pct(base, 0.99):.1f} |")
    print(f"| pre-checks running | {_pct(loaded, 0.5):.1f} | {_pct(loaded, 0.99):.1f} |")
    print(f"pre-checks finished during the {window:.0f} s of turns: {done}/{checks}; "
          f"p99 change {100 * (_pct(loaded, 0.99) / _pct(base, 0.99) - 1):+.0f}%")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--per", type=int, default=9, help="images per kind and profile")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--calibrate", action="store_true")
    ap.add_argument("--json", type=Path)
    ap.add_argument("--chat", action="store_true", help="chat latency while pre-checks run")
    ap.add_argument("--turns", type=int, default=300)
    ap.add_argument("--checks", type=int, default=6)
    args = ap.parse_args()
    if args.chat:
        print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}")
        asyncio.run(chat_bench(args.turns, args.checks, args.workers))
        print(f"load average {os.getloadavg()[0]:.2f} at end")
        return
    samples = corpus(args.per, seed=args.seed)
    print(f"# pre-check bench: {len(samples)} images ({args.per} per kind x profile "
          f"{', '.join(PROFILES)}), seed {args.seed}, {args.workers} workers")
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"load average {os.getloadavg()[0]:.2f} at start")
    started = time.perf_counter()
    with ProcessPoolExecutor(args.workers) as pool:
        rows = list(pool.map(one, enumerate(samples)))
    print(f"total {time.perf_counter() - started:.0f} s, load average "
          f"{os.getloadavg()[0]:.2f} at end")
    if args.json:
        args.json.write_text(json.dumps(rows, default=str))
    report(rows)
    if args.calibrate:
        calibrate(rows)


if __name__ == "__main__":
    main()
