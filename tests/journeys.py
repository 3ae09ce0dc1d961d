"""Scripts of whole applicant journeys, written from the catalog so every standard gets one."""

from __future__ import annotations

import io
from pathlib import Path

from bot.channels.console.chat import run
from bot.composition import App
from conversations.flows.apply import applicable_uploads, conditions_of
from licensing.catalog import CatalogEntry

NAME = "Siti Aminah"
NIK = "3201015701900001"
PHONE = "0812 3456 7890"
PLACE = "RSUD Bayu Asih, Jl. Veteran No. 1"
STR_NUMBER = "3201 5 2 1 24-1234567"
DATA_LINES = [NAME, NIK, PHONE, PLACE, STR_NUMBER]


def apply_script(entry: CatalogEntry, samples: dict[str, Path]) -> list[str]:
    """Lines an applicant types from the first message to a submitted application."""
    lines = ["halo", "1", "Ajukan", entry.region.name, entry.profession.name, "Mulai",
             *DATA_LINES]
    lines += ["Tidak"] * len(conditions_of(entry))
    files = [samples["pdf"], samples["jpeg"], samples["png"], samples["pdf2"]]
    for i, req in enumerate(applicable_uploads(entry, {})):
        path = files[i % len(files)]
        if path.suffix.lstrip(".").replace("jpg", "jpeg") not in {k.value for k in req.accepts}:
            path = samples["pdf"]
        lines.append(f"/upload {path}")
    lines.append("Kirim permohonan")
    return lines


async def run_script(app: App, user: str, lines: list[str]) -> str:
    """Pipe the lines into `izin chat`'s loop and return everything it printed."""
    stdin, stdout = io.StringIO("\n".join(lines) + "\n"), io.StringIO()
    await run(app, user, stdin=stdin, stdout=stdout)
    return stdout.getvalue()
