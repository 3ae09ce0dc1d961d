"""`izin serve` as a real process with the WhatsApp settings: a signed webhook in, the
worker and the dispatcher it started answer through the (fake) Graph API."""

from __future__ import annotations

import asyncio
import os
import socket
import sys
import time
from pathlib import Path

import httpx

from tests.fakes import graph_api as wa
from tests.fakes.graph_api import FakeGraphAPI
from tests.fakes.whatsapp_harness import SECRET, VERIFY_TOKEN


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_izin_serve_runs_the_whatsapp_channel(tmp_path: Path) -> None:
    graph = FakeGraphAPI()
    base = await graph.start()
    port = _free_port()
    env = {**os.environ, "IZIN_DATA_DIR": str(tmp_path / "var"), "IZIN_HTTP_PORT": str(port),
           "IZIN_WHATSAPP_TOKEN": graph.token, "IZIN_WHATSAPP_PHONE_NUMBER_ID": graph.phone_id,
           "IZIN_WHATSAPP_APP_SECRET": SECRET, "IZIN_WHATSAPP_VERIFY_TOKEN": VERIFY_TOKEN,
           "IZIN_WHATSAPP_API_BASE": base, "IZIN_LOG_LEVEL": "WARNING"}
    env.pop("IZIN_DATABASE_URL", None)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli", "serve", cwd=tmp_path, env=env,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(base_url=url, timeout=5) as client:
            for _ in range(600):
                try:
                    if (await client.get("/healthz")).status_code == 200:
                        break
                except httpx.TransportError:
                    await asyncio.sleep(0.1)
            # Sent now: the 24-hour window runs from the message timestamp.
            raw, headers = wa.signed(wa.inbound("6281999", wa.text("halo"),
                                                ts=int(time.time())), SECRET)
            resp = await client.post("/webhooks/whatsapp", content=raw, headers=headers)
            assert resp.status_code == 200
            for _ in range(300):
                if graph.to("6281999"):
                    break
                await asyncio.sleep(0.1)
        (reply,) = graph.to("6281999")
        assert reply.type == "interactive" and [i for i, _ in reply.options()] == [
            "lang:id", "lang:en"]
    finally:
        proc.terminate()
        _, err = await asyncio.wait_for(proc.communicate(), timeout=30)
        await graph.stop()
    # uvicorn shuts down gracefully, then re-raises the captured SIGTERM.
    assert proc.returncode in (0, -15) and b"Traceback" not in err, err.decode()[-2000:]
