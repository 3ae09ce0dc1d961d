"""Rendering within the Cloud API limits, and the template config."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.channels.whatsapp.payloads import content, parse
from bot.channels.whatsapp.render import render, shorten, split_text
from bot.channels.whatsapp.templates import TemplateConfigError, Templates
from conversations.types import Choice, OutMessage
from tests.fakes import graph_api as wa


def _choices(n: int, label: str = "Pilihan") -> tuple[Choice, ...]:
    return tuple(Choice(f"c:{i}", f"{label} {i}") for i in range(1, n + 1))


def test_three_choices_are_reply_buttons_with_short_titles() -> None:
    choices = (Choice("a", "Ajukan permohonan baru sekarang"), Choice("b", "Status"),
               Choice("c", "Bantuan"))
    (part,) = render(OutMessage(kind="choices", text="Pilih:", choices=choices), "id")
    inter = part.body["interactive"]
    assert inter["type"] == "button"
    buttons = [b["reply"] for b in inter["action"]["buttons"]]
    assert [b["id"] for b in buttons] == ["a", "b", "c"]
    assert buttons[0]["title"] == "Ajukan permohonan…" and len(buttons[0]["title"]) <= 20


def test_titles_that_collide_once_cut_become_a_list() -> None:
    choices = (Choice("a", "Scan fotokopi ijazah asli"),
               Choice("b", "Scan fotokopi ijazah legalisir"))
    (part,) = render(OutMessage(kind="choices", text="Ganti yang mana?", choices=choices), "id")
    inter = part.body["interactive"]
    assert inter["type"] == "list"
    rows = inter["action"]["sections"][0]["rows"]
    assert all(len(r["title"]) <= 24 for r in rows)
    assert rows[1]["description"] == "Scan fotokopi ijazah legalisir"  # the whole label
    assert inter["action"]["button"] == "Pilih"


def test_up_to_ten_choices_are_a_list_and_eleven_a_numbered_menu() -> None:
    (part,) = render(OutMessage(kind="choices", text="Daerah:", choices=_choices(10)), "en")
    assert part.body["interactive"]["type"] == "list"
    assert part.body["interactive"]["action"]["button"] == "Choose"
    (menu,) = render(OutMessage(kind="choices", text="Daerah:", choices=_choices(11)), "id")
    body = menu.body["text"]["body"]
    assert "1. Pilihan 1" in body and "11. Pilihan 11" in body
    assert body.endswith("Balas dengan nomor pilihan Anda.")


def test_a_long_body_goes_first_as_text_and_the_buttons_keep_1024() -> None:
    text = "\n\n".join(f"Paragraf {i}: " + "kata " * 60 for i in range(8))
    parts = render(OutMessage(kind="choices", text=text, choices=_choices(2)), "id")
    assert [p.body["type"] for p in parts] == ["text", "interactive"]
    body = parts[-1].body["interactive"]["body"]["text"]
    assert len(body) <= 1024
    joined = parts[0].body["text"]["body"] + "\n\n" + body
    assert joined.split() == text.split()  # nothing lost, nothing repeated


def test_text_over_4096_is_split_at_breaks_and_loses_nothing() -> None:
    text = "\n".join(f"Baris {i} " + "x" * 90 for i in range(120))
    parts = render(OutMessage(kind="text", text=text), "id")
    bodies = [p.body["text"]["body"] for p in parts]
    assert len(bodies) == 3 and all(len(b) <= 4096 for b in bodies)
    assert "\n".join(bodies) == text
    assert split_text("a" * 5000, 4096) == ["a" * 4096, "a" * 904]


def test_shorten_cuts_at_a_word() -> None:
    assert shorten("Kabupaten Purwakarta", 24) == "Kabupaten Purwakarta"
    assert shorten("Surat keterangan sehat dari dokter", 20) == "Surat keterangan…"


def test_webhook_contents() -> None:
    parsed = parse(wa.inbound("62811", wa.list_reply("r:metro", "Kota Metro"), name="Ani"))
    (m,) = parsed.messages
    assert (m.wa_id, m.name, content(m.message)) == ("62811", "Ani", ("choice", "r:metro"))
    template_tap = {"type": "button", "button": {"payload": "!kr:ADU-1", "text": "Balas"}}
    assert content(template_tap) == ("choice", "!kr:ADU-1")
    (s,) = parse(wa.status("wamid.X", "failed", "62811", error_code=131047)).statuses
    assert (s.status, s.error_code) == ("failed", 131047) and "Re-engagement" in (s.error or "")


def test_the_shipped_templates_load_and_a_broken_file_is_named(tmp_path: Path) -> None:
    templates = Templates.load()
    assert templates.find("permit_ready", "document").header == "document"  # type: ignore[union-attr]
    assert templates.find("permit_ready", "text").name == "izin_pemberitahuan"  # type: ignore[union-attr]
    assert templates.find(None, "text") is None
    bad = tmp_path / "t.yaml"
    bad.write_text("templates:\n  x:\n    body: [text]\n")
    with pytest.raises(TemplateConfigError, match="needs a name"):
        Templates.load(bad)


def test_a_template_speaks_the_applicants_language() -> None:
    templates = Templates.load()
    spec = templates.find("complaint_closed", "choices")
    assert spec is not None
    message = OutMessage(kind="choices", text="Sudah selesai?\nTiket ADU-1",
                         choices=(Choice("!ks:ADU-1:yes", "Ya"), Choice("!ks:ADU-1:no", "Tidak")))
    body = templates.build(spec, message, "en")["template"]
    assert body["language"] == {"code": "en"}
    assert [c["parameters"][0] for c in body["components"][1:]] == [
        {"type": "payload", "payload": "!ks:ADU-1:yes"},
        {"type": "payload", "payload": "!ks:ADU-1:no"}]
    assert body["components"][0]["parameters"] == [
        {"type": "text", "text": "Sudah selesai? Tiket ADU-1"}]
