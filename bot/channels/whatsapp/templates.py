"""Which approved template a notification goes as outside the 24-hour window (data)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from conversations.types import OutMessage

DEFAULT_PATH = Path(__file__).with_name("templates.yaml")
PARAM_MAX = 1024


class TemplateConfigError(ValueError):
    pass


@dataclass(frozen=True)
class Source:
    kind: str  # text | match
    pattern: re.Pattern[str] | None = None

    def value(self, message: OutMessage) -> str:
        text = message.text or ""
        if self.pattern is not None:
            found = self.pattern.search(text)
            text = (found.group(1) if found and found.groups() else
                    found.group(0) if found else "-")
        return one_line(text) or "-"


@dataclass(frozen=True)
class TemplateSpec:
    key: str
    name: str
    body: tuple[Source, ...] = ()
    header: str | None = None  # document | image
    buttons: int = 0


@dataclass(frozen=True)
class Templates:
    languages: dict[str, str]
    specs: dict[str, TemplateSpec]

    @staticmethod
    def load(path: Path | None = None) -> Templates:
        path = path or DEFAULT_PATH
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise TemplateConfigError(f"{path}: {exc}") from exc
        specs = {}
        for key, raw in (data.get("templates") or {}).items():
            specs[str(key)] = _spec(path, str(key), raw)
        languages = {str(k): str(v) for k, v in (data.get("languages") or {}).items()}
        return Templates(languages=languages or {"id": "id"}, specs=specs)

    def find(self, notification_type: str | None, kind: str) -> TemplateSpec | None:
        if not notification_type:
            return None
        return self.specs.get(f"{notification_type}.{kind}") or self.specs.get(
            notification_type)

    def build(self, spec: TemplateSpec, message: OutMessage, lang: str | None,
              media_id: str | None = None) -> dict[str, Any]:
        """The `template` message body for `message`, per the spec."""
        components: list[dict[str, Any]] = []
        if spec.header and media_id:
            media: dict[str, Any] = {"id": media_id}
            if spec.header == "document" and message.filename:
                media["filename"] = message.filename
            components.append({"type": "header",
                               "parameters": [{"type": spec.header, spec.header: media}]})
        if spec.body:
            components.append({"type": "body", "parameters": [
                {"type": "text", "text": s.value(message)} for s in spec.body]})
        for i, choice in enumerate(message.choices[: spec.buttons]):
            components.append({"type": "button", "sub_type": "quick_reply", "index": str(i),
                               "parameters": [{"type": "payload", "payload": choice.id}]})
        code = self.languages.get(lang or "", next(iter(self.languages.values())))
        template: dict[str, Any] = {"name": spec.name, "language": {"code": code}}
        if components:
            template["components"] = components
        return {"type": "template", "template": template}


def _spec(path: Path, key: str, raw: Any) -> TemplateSpec:
    if not isinstance(raw, dict) or not isinstance(raw.get("name"), str):
        raise TemplateConfigError(f"{path}: template {key!r} needs a name")
    sources = []
    for item in raw.get("body") or ():
        if item == "text":
            sources.append(Source("text"))
        elif isinstance(item, dict) and isinstance(item.get("match"), str):
            sources.append(Source("match", re.compile(item["match"])))
        else:
            raise TemplateConfigError(f"{path}: template {key!r}: unknown body source {item!r}")
    header = raw.get("header")
    if header not in (None, "document", "image"):
        raise TemplateConfigError(f"{path}: template {key!r}: header must be document or image")
    return TemplateSpec(key=key, name=raw["name"], body=tuple(sources), header=header,
                        buttons=int(raw.get("buttons") or 0))


def one_line(text: str) -> str:
    """Template parameters may not hold newlines, tabs or 4+ spaces in a row."""
    flat = re.sub(r"\s+", " ", text).strip()
    return flat if len(flat) <= PARAM_MAX else flat[: PARAM_MAX - 1].rstrip() + "…"
