"""IZIN_ENV=production: refuse to start with what is fine on a laptop and wrong for an
office (a TEST signing certificate, webhooks anyone can call, known passwords)."""

from __future__ import annotations

from sqlalchemy.engine import make_url

from bot.settings import Environment, Settings

DEV_P12_PASSWORD = "izin-dev"  # Settings' default: the TEST certificate's password
KNOWN_PASSWORDS = frozenset({"", "postgres", "password", "izin", "changeme", "secret",
                             DEV_P12_PASSWORD})


class InsecureSettings(SystemExit):
    def __init__(self, problems: list[str]) -> None:
        super().__init__("IZIN_ENV=production refuses to start:\n"
                         + "\n".join(f"  - {p}" for p in problems))
        self.problems = problems


def problems(settings: Settings) -> list[str]:
    """What makes these settings unfit for production (empty: fit)."""
    found: list[str] = []
    if settings.permit_p12 is None:
        found.append("IZIN_PERMIT_P12 is not set: permits would be signed with a TEST "
                     "certificate")
    elif not settings.permit_p12.is_file():
        found.append(f"IZIN_PERMIT_P12 names no readable file ({settings.permit_p12})")
    if settings.permit_p12_is_test:
        found.append("IZIN_PERMIT_P12_IS_TEST is true")
    if settings.permit_p12_password.get_secret_value() in KNOWN_PASSWORDS:
        found.append("IZIN_PERMIT_P12_PASSWORD is the default or a well-known password")
    if settings.telegram_token is not None and settings.telegram_webhook_url and (
            settings.telegram_webhook_secret is None):
        found.append("IZIN_TELEGRAM_WEBHOOK_SECRET is not set (webhook calls unchecked "
                     "against a secret of its own)")
    if settings.whatsapp_token is not None:
        if settings.whatsapp_app_secret is None:
            found.append("IZIN_WHATSAPP_APP_SECRET is not set (webhook signatures unchecked)")
        if settings.whatsapp_verify_token is None:
            found.append("IZIN_WHATSAPP_VERIFY_TOKEN is not set")
    if not settings.public_base_url.startswith("https://"):
        found.append("IZIN_PUBLIC_BASE_URL is not https (permit QR codes and staff links)")
    if settings.office_secure_cookies is False:
        found.append("IZIN_OFFICE_SECURE_COOKIES is false (staff sessions over plain http)")
    if settings.database_url:
        password = make_url(settings.database_url).password
        if password is not None and str(password) in KNOWN_PASSWORDS:
            found.append("IZIN_DATABASE_URL uses a default or well-known password")
    return found


def check(settings: Settings) -> None:
    """Raise InsecureSettings (a SystemExit with the list) in production when unfit."""
    if settings.env is Environment.production and (found := problems(settings)):
        raise InsecureSettings(found)
