"""How long the back office's "Kirim" takes for a big selection, and when every
recipient is queued.

    .venv/bin/python bench/office_broadcast.py [--recipients 5000]

The real HTTP app under uvicorn on 127.0.0.1 (SQLite in a temporary directory); a head
of office signs in with httpx, previews, then sends to every open application. Prints
the preview's and the send request's time (the send returns before the recipients are
queued: `enqueue_all` runs after the response) and the time until `queued` equals the
selection.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # runnable as a plain script from anywhere

import httpx  # noqa: E402

from bot.composition import build  # noqa: E402
from bot.settings import Settings  # noqa: E402
from notifications import broadcasts as bc  # noqa: E402
from tests.browser.conftest import serving  # noqa: E402
from tests.notify_data import add_applicants  # noqa: E402
from tests.office_client import PASSWORD, make_staff  # noqa: E402

NOON_WIB = datetime(2026, 11, 24, 5, 0, tzinfo=UTC)
TEMPLATE = "Halo {{ name }}, permohonan {{ reg_no }} ada di tahap {{ step }} ({{ deadline }})."


async def main(n: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp), _env_file=None)  # type: ignore[call-arg]
        app = await build(settings)
        app.runtime.clock = lambda: NOON_WIB
        try:
            await add_applicants(app.sessions, n, now=NOON_WIB)
            await make_staff(app, "kadis", "head_of_office", "purwakarta")
            async with serving(app) as base, httpx.AsyncClient(base_url=base,
                                                                timeout=120) as http:
                page = await http.get("/office/login")
                token = re.search(r'name="login_csrf" value="([^"]+)"', page.text)
                assert token
                await http.post("/office/login", data={
                    "username": "kadis", "password": PASSWORD, "login_csrf": token.group(1)})
                form = await http.get("/office/broadcasts/new")
                csrf = re.search(r'name="csrf" value="([^"]+)"', form.text)
                assert csrf
                data = {"csrf": csrf.group(1), "region": "purwakarta", "open_only": "1",
                        "template": TEMPLATE}
                t0 = time.perf_counter()
                res = await http.post("/office/broadcasts/preview", data=data)
                t_preview = time.perf_counter() - t0
                assert f'data-count="{n}"' in res.text
                # From a thread, as a browser is another process: the server's event
                # loop busy queuing must not delay reading the answer.
                with httpx.Client(base_url=base, cookies=http.cookies, timeout=120) as sync:
                    t0 = time.perf_counter()
                    res = await asyncio.to_thread(sync.post, "/office/broadcasts", data=data)
                    t_send = time.perf_counter() - t0
                assert res.status_code == 303, res.text
                bid = int(res.headers["location"].split("/")[-1].split("?")[0])
                while (await bc.progress(app.sessions, bid)).queued < n:  # noqa: ASYNC110
                    await asyncio.sleep(0.05)
                t_queued = time.perf_counter() - t0
        finally:
            await app.close()
    print(f"| recipients | preview | send request | all queued |\n|---|---|---|---|\n"
          f"| {n} | {t_preview * 1000:.0f} ms | {t_send * 1000:.0f} ms | "
          f"{t_queued:.2f} s |")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--recipients", type=int, default=5000)
    asyncio.run(main(parser.parse_args().recipients))
