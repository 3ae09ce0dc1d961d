"""The SKM questionnaire data (licensing/skm.yaml)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from licensing.skm import (
    ELEMENT_KEYS,
    LANGUAGES,
    SKM_FILE,
    SkmError,
    load_questionnaire,
    load_skm,
)


def test_nine_elements_with_the_standard_keys() -> None:
    q = load_skm()
    assert len(q.elements) == 9
    keys = [e.key for e in q.elements]
    assert len(set(keys)) == 9
    assert tuple(keys) == ELEMENT_KEYS == (
        "persyaratan", "prosedur", "waktu", "biaya", "produk",
        "kompetensi", "perilaku", "pengaduan", "sarana",
    )
    assert sorted(e.number for e in q.elements) == list(range(1, 10))


def test_four_labels_in_both_languages() -> None:
    for e in load_skm().elements:
        assert [a.value for a in e.answers] == [1, 2, 3, 4], e.key
        for lang in LANGUAGES:
            assert e.name(lang) and e.question(lang), (e.key, lang)
            labels = [a.label(lang) for a in e.answers]
            assert all(labels) and len(set(labels)) == 4, (e.key, lang)
        assert e.question("id").startswith("Bagaimana "), e.key


def test_regulation_wording() -> None:
    q = load_skm()
    p = q.element("persyaratan")
    assert p.question("id") == (
        "Bagaimana pendapat Saudara tentang kesesuaian persyaratan pelayanan "
        "dengan jenis pelayanannya?"
    )
    assert [a.id for a in p.answers] == ["Tidak sesuai", "Kurang sesuai", "Sesuai", "Sangat sesuai"]
    assert [a.id for a in q.element("biaya").answers] == [
        "Sangat mahal", "Cukup mahal", "Murah", "Gratis",
    ]
    assert [a.id for a in q.element("pengaduan").answers] == [
        "Tidak ada", "Ada tetapi tidak berfungsi", "Berfungsi kurang maksimal",
        "Dikelola dengan baik",
    ]
    assert q.element("sarana").answer(1).id == "Buruk"
    with pytest.raises(ValueError):
        q.element("sarana").answer(5)


def test_profile_questions() -> None:
    q = load_skm()
    assert [p.key for p in q.profile] == ["age", "sex", "education", "occupation"]
    assert [o.id for o in q.profile_question("education").options] == [
        "SD", "SMP", "SMA", "D1–D3", "D4/S1", "S2", "S3",
    ]
    assert [o.id for o in q.profile_question("occupation").options] == [
        "PNS", "TNI", "POLRI", "Swasta", "Wirausaha", "Lainnya",
    ]
    assert q.profile_question("sex").option_keys == ("l", "p")
    for p in q.profile:
        for lang in LANGUAGES:
            assert p.question(lang)
            assert all(o.label(lang) for o in p.options)
    with pytest.raises(ValueError):
        q.profile_question("sex").option("x")


def test_unsupported_language() -> None:
    with pytest.raises(ValueError):
        load_skm().element("waktu").question("jv")


def _write(tmp_path: Path, mutate: object) -> Path:
    raw = yaml.safe_load(SKM_FILE.read_text(encoding="utf-8"))
    assert callable(mutate)
    mutate(raw)
    path = tmp_path / "skm.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    return path


def test_invalid_files_are_refused(tmp_path: Path) -> None:
    def drop_element(raw: dict[str, list[object]]) -> None:
        raw["elements"].pop()

    def three_answers(raw: dict[str, list[dict[str, list[object]]]]) -> None:
        raw["elements"][0]["answers"].pop()

    def no_english(raw: dict[str, list[dict[str, dict[str, str]]]]) -> None:
        del raw["elements"][3]["question"]["en"]

    for mutate in (drop_element, three_answers, no_english):
        with pytest.raises(SkmError) as exc:
            load_questionnaire(_write(tmp_path, mutate))
        assert "skm.yaml" in str(exc.value)
