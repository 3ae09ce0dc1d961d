"""The office's signer from settings; a test certificate when none is configured."""

from __future__ import annotations

import logging
from pathlib import Path

from bot.settings import Environment, Settings
from licensing.permit.signing import make_dev_certificate
from service.permits import Signer

log = logging.getLogger(__name__)

DEV_COMMON_NAME = "Izin TEST signer (not valid for real permits)"


def make_dev_cert(path: Path, password: bytes) -> bool:
    """Create the test certificate at `path` unless it exists; True when created."""
    if path.exists():
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    make_dev_certificate(path, password, DEV_COMMON_NAME)
    return True


def signer_from(settings: Settings) -> Signer:
    password = settings.permit_p12_password.get_secret_value().encode()
    if settings.permit_p12 is not None:
        return Signer(settings.permit_p12, password, test=settings.permit_p12_is_test,
                      base_url=settings.public_base_url)
    if settings.env is Environment.production:  # serve's guard stops this earlier
        raise RuntimeError("IZIN_ENV=production: set IZIN_PERMIT_P12, the office's certificate")
    path = settings.dev_cert_path
    if make_dev_cert(path, password):
        log.warning("no IZIN_PERMIT_P12 set: made a TEST signing certificate at %s", path)
    return Signer(path, password, test=True, base_url=settings.public_base_url)
