"""`izin precheck FILE... [--kind KIND] [--json]`: the document pre-check on files from
disk, so an office can measure it on its own sample of photos.

Several files are one requirement's pages, in order (one PDF). The read fields are
printed to the terminal of whoever ran it, never logged.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bot.settings import Settings


def cmd_precheck(args: argparse.Namespace, settings: Settings) -> int:
    from licensing.precheck import ocr, pipeline
    from licensing.precheck.kinds import DocumentKind

    logging.getLogger("pikepdf").setLevel(logging.WARNING)  # img2pdf's import chatter

    paths = [Path(p) for p in args.files]
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        print(f"no such file: {', '.join(missing)}", file=sys.stderr)
        return 2
    kind = DocumentKind(args.kind) if args.kind else None
    out = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="izin-precheck-")) / (
        paths[0].stem + "-rapi.pdf")
    expected = pipeline.Expected(nik=args.nik, full_name=args.name, str_number=args.str_number,
                                 today=datetime.now(UTC).date())
    try:
        result = pipeline.run(paths, kind, expected, out)
    except ValueError as exc:
        print(f"cannot read: {exc}", file=sys.stderr)
        return 1
    result["pdf"] = str(out)
    if args.json:
        print(json.dumps(result, indent=2, ensure_ascii=False))
        return 0
    _print(result, ocr_available=ocr.available())
    return 0


def _print(result: dict[str, Any], *, ocr_available: bool) -> None:
    print(f"kind: {result['kind'] or '-'}   pages: {len(result['pages'])}   "
          f"seconds: {result['seconds']}")
    for i, page in enumerate(result["pages"], 1):
        m = page["metrics"]
        print(f"page {i}: flags: {', '.join(page['flags']) or 'none'}   sharpness "
              f"{m['sharpness']}  brightness {m['brightness']}  short side {m['short_side']} px"
              f"   page found: {'yes' if page['found'] else 'no'}   turned {page['turned']}°")
    if not result["ocr"]:
        print("fields: not read (" + ("no --kind" if result["kind"] is None else
              "tesseract with the 'ind' model is not installed" if not ocr_available
              else "nothing to read for this kind") + ")")
    for name, value in result["fields"].items():
        print(f"  {name}: {value if value is not None else '(not read)'}")
    for c in result["checks"]:
        print(f"  check {c['field']}: {c['status']}")
    print(f"cleaned PDF: {result['pdf']}")


def add_commands(sub: Any) -> None:
    from licensing.precheck.kinds import DocumentKind

    p = sub.add_parser("precheck", help="pre-check photos of a document (quality, fields, "
                       "a cleaned PDF)")
    p.add_argument("files", nargs="+", metavar="FILE", help="photos (JPEG/PNG), in page order")
    p.add_argument("--kind", choices=[k.value for k in DocumentKind],
                   help="the document: which fields to read")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.add_argument("--out", help="where to write the cleaned PDF (default: a temp dir)")
    p.add_argument("--nik", help="compare the NIK read with this one")
    p.add_argument("--name", help="compare the name read with this one")
    p.add_argument("--str-number", dest="str_number", help="compare the STR number read")
    p.set_defaults(func=cmd_precheck)
