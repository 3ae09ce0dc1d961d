"""Every applicant-visible text, from Jinja2 templates per locale.

Templates live in `templates/<lang>/<group>.j2`; each message is a macro, so a key
"apply.ask_nik" is the macro `ask_nik` of `<lang>/apply.j2`. Output is plain text:
channels escape it for their own markup.
"""

from __future__ import annotations

from datetime import date
from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from licensing.dates import format_date

TEMPLATES = Path(__file__).with_name("templates")
LANGUAGES = ("id", "en")
DEFAULT_LANG = "id"


def _rupiah(value: int) -> str:
    return "Rp" + f"{value:,}".replace(",", ".")


@cache
def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(TEMPLATES)),
        autoescape=False,  # plain text; each channel escapes for its own markup
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
    )
    env.filters["rupiah"] = _rupiah
    return env


@cache
def _module(lang: str, group: str) -> Any:
    # Built once per locale and group: macros are then plain calls on the hot path.
    def fmt_date(d: date) -> str:
        return format_date(d, lang)

    template = _environment().get_template(f"{lang}/{group}.j2")
    return template.make_module({"lang": lang, "fmt_date": fmt_date})


class Translator:
    def __init__(self, lang: str | None) -> None:
        self.lang = lang if lang in LANGUAGES else DEFAULT_LANG

    def __call__(self, key: str, **params: Any) -> str:
        group, _, name = key.partition(".")
        macro = getattr(_module(self.lang, group), name, None)
        if macro is None:
            raise KeyError(f"no message {key!r} for language {self.lang!r}")
        return "\n".join(line.rstrip() for line in str(macro(**params)).strip().splitlines())

    def date(self, d: date) -> str:
        return format_date(d, self.lang)


def message_keys(lang: str) -> set[str]:
    """All message keys a locale defines (to check locales define the same set)."""
    keys: set[str] = set()
    for path in sorted((TEMPLATES / lang).glob("*.j2")):
        module = _module(lang, path.stem)
        for name, value in vars(module).items():
            if not name.startswith("_") and callable(value):
                keys.add(f"{path.stem}.{name}")
    return keys
