"""`izin dev-cert`, `izin permit …` and `izin ikm report`: the permit and survey commands."""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from bot.settings import Settings


def cmd_dev_cert(args: argparse.Namespace, settings: Settings) -> int:
    from bot.signing import make_dev_cert

    path = Path(args.out) if args.out else settings.dev_cert_path
    password = settings.permit_p12_password.get_secret_value().encode()
    if not make_dev_cert(path, password):
        print(f"{path} exists; not overwritten", file=sys.stderr)
        return 1
    print(f"TEST signing certificate written to {path} (password from "
          "IZIN_PERMIT_P12_PASSWORD). Permits signed with it say TEST.")
    print(f"Use it: IZIN_PERMIT_P12={path} IZIN_PERMIT_P12_IS_TEST=true")
    return 0


def _run(settings: Settings, work: Any) -> Any:
    from bot.composition import build

    async def main() -> Any:
        app = await build(settings)
        try:
            return await work(app)
        finally:
            await app.close()

    return asyncio.run(main())


def cmd_permit_produce(args: argparse.Namespace, settings: Settings) -> int:
    from bot.jobs import run_once

    done = _run(settings, run_once)
    print(f"{done['permits_issued']} permit(s) issued, "
          f"{done['permit_reminders']} reminder(s) queued")
    return 0


def cmd_permit_revoke(args: argparse.Namespace, settings: Settings) -> int:
    from service.permits import PermitError, revoke

    async def work(app: Any) -> str:
        permit = await revoke(app.sessions, key=args.key, reason=args.reason, actor=args.by,
                              now=datetime.now(UTC))
        return str(permit.number)

    try:
        number = _run(settings, work)
    except PermitError as exc:
        print(f"refused: {exc}", file=sys.stderr)
        return 1
    print(f"permit {number} revoked")
    return 0


def cmd_permit_upload(args: argparse.Namespace, settings: Settings) -> int:
    from licensing.permit.signing import SignatureError
    from service.permits import PermitError, attach_signed_pdf

    pdf = Path(args.file).read_bytes()

    async def work(app: Any) -> Any:
        return await attach_signed_pdf(app.sessions, files=app.files, catalog=app.catalog,
                                       reg_no=args.reg_no, pdf=pdf, actor=args.by,
                                       now=datetime.now(UTC))

    try:
        info = _run(settings, work)
    except SignatureError as exc:
        print(f"refused: {exc.message_id} ({exc})", file=sys.stderr)
        return 1
    except PermitError as exc:
        print(f"refused: {exc}", file=sys.stderr)
        return 1
    print(f"stored unchanged; signed by {info.signer_cn or 'unknown'}"
          f"{' (TEST)' if info.is_test else ''}")
    return 0


def cmd_ikm_report(args: argparse.Namespace, settings: Settings) -> int:
    from licensing.catalog import STANDARDS_DIR, Catalog
    from service.ikm import report, report_csv, table

    catalog = Catalog.load(settings.catalog_dir or STANDARDS_DIR)
    try:
        catalog.region(args.region)
    except KeyError:
        print(f"unknown region {args.region!r}", file=sys.stderr)
        return 2

    async def work(app: Any) -> Any:
        return await report(app.sessions, app.catalog, region=args.region,
                            start=args.start, end=args.end, profession=args.profession)

    r = _run(settings, work)
    if args.csv:
        sys.stdout.write(report_csv(r))
        return 0
    service = f", {args.profession}" if args.profession else ""
    print(f"IKM {catalog.region(args.region).name}{service}, {r.start} to {r.end}")
    print(f"respondents: {r.sample.respondents} of {r.sample.required} required "
          f"(Krejcie-Morgan for {r.sample.population} applicants)"
          f"{'' if r.sample.sufficient else ' - sample too small'}")
    if r.result is None:
        print("no survey answers in this period")
        return 0
    print(f"{'element':<38} {'NRR':>5}")
    for row in table(r):
        print(f"U{row.number} {row.name:<35} {row.nrr:>5}")
    print(f"{'weighted NRR (x 1/9, summed)':<38} {r.result.weighted_total_rounded:>5}")
    print(f"{'IKM (x 25)':<38} {r.result.ikm:>5}")
    print(f"grade: {r.result.grade.letter} ({r.result.grade.label})")
    return 0


def add_commands(sub: Any) -> None:
    dev = sub.add_parser("dev-cert", help="make a self-signed TEST certificate for signing")
    dev.add_argument("--out", help="where to write it (default: DATA_DIR/dev-signing.p12)")
    dev.set_defaults(func=cmd_dev_cert)

    permit = sub.add_parser("permit", help="permits").add_subparsers(dest="permit_command",
                                                                     required=True)
    permit.add_parser("produce", help="sign and announce approved permits now").set_defaults(
        func=cmd_permit_produce)
    rev = permit.add_parser("revoke", help="revoke an issued permit")
    rev.add_argument("key", help="permit number or verify code")
    rev.add_argument("--reason", required=True)
    rev.add_argument("--by", required=True, help="who revokes (staff name)")
    rev.set_defaults(func=cmd_permit_revoke)
    up = permit.add_parser("upload", help="use a PDF signed elsewhere as the permit")
    up.add_argument("reg_no")
    up.add_argument("file")
    up.add_argument("--by", required=True, help="who uploads (staff name)")
    up.set_defaults(func=cmd_permit_upload)

    ikm = sub.add_parser("ikm", help="satisfaction index").add_subparsers(dest="ikm_command",
                                                                          required=True)
    rep = ikm.add_parser("report", help="the IKM table of a region and period")
    rep.add_argument("--region", required=True)
    rep.add_argument("--from", dest="start", required=True, type=date.fromisoformat)
    rep.add_argument("--to", dest="end", required=True, type=date.fromisoformat)
    rep.add_argument("--profession")
    rep.add_argument("--csv", action="store_true")
    rep.set_defaults(func=cmd_ikm_report)
