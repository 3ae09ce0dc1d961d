"""The satisfaction survey (SKM, PermenPANRB 14/2017) as data: `skm.yaml`.

Nine elements, each one question answered on the 1-4 scale with the regulation's
wording, and the respondent profile (age band, sex, education, occupation); every text
in Indonesian and English. `load_skm()` validates the file; a bad file raises
`SkmError` naming the field and the problem.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Annotated

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

SKM_FILE = Path(__file__).with_name("skm.yaml")

# The nine elements (unsur) in the regulation's order; answers are stored by these keys.
ELEMENT_KEYS: tuple[str, ...] = (
    "persyaratan",
    "prosedur",
    "waktu",
    "biaya",
    "produk",
    "kompetensi",
    "perilaku",
    "pengaduan",
    "sarana",
)
PROFILE_KEYS: tuple[str, ...] = ("age", "sex", "education", "occupation")
SCALE: tuple[int, ...] = (1, 2, 3, 4)
LANGUAGES: tuple[str, ...] = ("id", "en")

Key = Annotated[str, Field(pattern=r"^[a-z0-9_]+$", max_length=24)]
Text = Annotated[str, Field(min_length=1)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Localized(_Model):
    id: Text
    en: Text

    def __call__(self, lang: str) -> str:
        if lang == "id":
            return self.id
        if lang == "en":
            return self.en
        raise ValueError(f"unsupported language {lang!r}; expected one of {list(LANGUAGES)}")


class Answer(_Model):
    value: int = Field(ge=1, le=4)
    id: Text
    en: Text

    def label(self, lang: str) -> str:
        return Localized(id=self.id, en=self.en)(lang)


class Element(_Model):
    key: Key
    number: int = Field(ge=1, le=9)  # the question's number in the sample questionnaire
    name: Localized
    question: Localized
    answers: tuple[Answer, ...]

    @model_validator(mode="after")
    def _four_answers(self) -> Element:
        if tuple(a.value for a in self.answers) != SCALE:
            raise ValueError("answers must be exactly the values 1, 2, 3, 4 in order")
        return self

    def answer(self, value: int) -> Answer:
        for a in self.answers:
            if a.value == value:
                return a
        raise ValueError(f"{self.key}: answer must be 1-4, got {value!r}")


class ProfileOption(_Model):
    key: Key
    id: Text
    en: Text

    def label(self, lang: str) -> str:
        return Localized(id=self.id, en=self.en)(lang)


class ProfileQuestion(_Model):
    key: Key
    question: Localized
    options: tuple[ProfileOption, ...] = Field(min_length=2)

    @model_validator(mode="after")
    def _unique_options(self) -> ProfileQuestion:
        keys = [o.key for o in self.options]
        if len(set(keys)) != len(keys):
            raise ValueError(f"{self.key}: duplicate option keys")
        return self

    def option(self, key: str) -> ProfileOption:
        for o in self.options:
            if o.key == key:
                return o
        raise ValueError(f"{self.key}: unknown option {key!r}")

    @property
    def option_keys(self) -> tuple[str, ...]:
        return tuple(o.key for o in self.options)


class Questionnaire(_Model):
    source: Text
    elements: tuple[Element, ...]
    profile: tuple[ProfileQuestion, ...]

    @model_validator(mode="after")
    def _the_standard_keys(self) -> Questionnaire:
        keys = tuple(e.key for e in self.elements)
        if keys != ELEMENT_KEYS:
            raise ValueError(
                f"elements must be {list(ELEMENT_KEYS)} in that order, got {list(keys)}"
            )
        numbers = sorted(e.number for e in self.elements)
        if numbers != list(range(1, 10)):
            raise ValueError("element numbers must be 1-9, each once")
        pkeys = tuple(p.key for p in self.profile)
        if pkeys != PROFILE_KEYS:
            raise ValueError(
                f"profile must be {list(PROFILE_KEYS)} in that order, got {list(pkeys)}"
            )
        return self

    def element(self, key: str) -> Element:
        for e in self.elements:
            if e.key == key:
                return e
        raise KeyError(key)

    def profile_question(self, key: str) -> ProfileQuestion:
        for p in self.profile:
            if p.key == key:
                return p
        raise KeyError(key)


class SkmError(Exception):
    """The questionnaire file is unreadable or invalid."""


def load_questionnaire(path: Path = SKM_FILE) -> Questionnaire:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise SkmError(f"{path}: cannot read: {exc}") from exc
    try:
        return Questionnaire.model_validate(raw)
    except ValidationError as exc:
        lines = [f"{path}: invalid SKM questionnaire"]
        for e in exc.errors():
            loc = ".".join(str(p) for p in e["loc"]) or "(file)"
            lines.append(f"  {loc}: {e['msg']}")
        raise SkmError("\n".join(lines)) from exc


@cache
def load_skm() -> Questionnaire:
    """The packaged questionnaire, loaded once."""
    return load_questionnaire(SKM_FILE)
