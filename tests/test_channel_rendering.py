"""Channel rendering against the platforms' limits and the navigation rules (issue 18):
WhatsApp keeps reply buttons for the answers, navigation costs no button, titles are
never cut inside a word; Telegram pages keep navigation and have no dead buttons."""

from __future__ import annotations

import random

import pytest

from bot.channels.telegram.render import PAGE_SIZE, keyboard, page_count
from bot.channels.whatsapp.render import (
    BUTTON_TITLE_MAX,
    ROW_DESCRIPTION_MAX,
    ROW_TITLE_MAX,
    ROWS_MAX,
    render,
    shorten,
)
from conversations.i18n import Translator
from conversations.types import Choice, OutMessage
from licensing.complaints import CATEGORIES

NAV = (Choice("nav:back", "Kembali"), Choice("nav:menu", "Menu utama"))


def _interactive(message: OutMessage, lang: str = "id") -> dict:  # type: ignore[type-arg]
    parts = render(message, lang)
    assert parts[-1].body["type"] == "interactive"
    return parts[-1].body["interactive"]  # type: ignore[no-any-return]


def test_yes_no_question_keeps_both_answers_as_buttons_and_names_the_words() -> None:
    choices = (Choice("yes", "✅ Kirim permohonan"), Choice("no", "✏️ Ubah data"), *NAV)
    inter = _interactive(OutMessage(kind="choices", text="Kirim sekarang?", choices=choices))
    assert inter["type"] == "button"
    assert [b["reply"]["id"] for b in inter["action"]["buttons"]] == ["yes", "no"]
    assert inter["footer"]["text"] == "Ketik kembali atau menu untuk berpindah."
    inter = _interactive(OutMessage(kind="choices", text="Send?", choices=choices), "en")
    assert "back" in inter["footer"]["text"] and len(inter["footer"]["text"]) <= 60


def test_three_answers_and_a_menu_stay_buttons() -> None:
    choices = (Choice("a", "Ajukan"), Choice("b", "Status"), Choice("c", "Pengaduan"), NAV[1])
    inter = _interactive(OutMessage(kind="choices", text="Menu", choices=choices))
    assert [b["reply"]["id"] for b in inter["action"]["buttons"]] == ["a", "b", "c"]
    assert inter["footer"]["text"] == "Ketik menu untuk ke menu utama."


def test_nine_complaint_categories_with_navigation_fit_one_list() -> None:
    t = Translator("id")
    cats = tuple(Choice(f"g:{k}", t(f"complaint.category_{k}")) for k in CATEGORIES)
    assert len(cats) == 9
    inter = _interactive(OutMessage(kind="choices", text="Tentang apa?", choices=cats + NAV))
    assert inter["type"] == "list"
    rows = [r for s in inter["action"]["sections"] for r in s["rows"]]
    # Nine categories in the list itself; the navigation words hint in the footer.
    assert [r["id"] for r in rows] == [c.id for c in cats]
    assert "kembali" in inter["footer"]["text"]


def test_a_short_list_takes_navigation_as_rows_of_its_own_section() -> None:
    regions = tuple(Choice(f"r:{i}", f"Kota {i}") for i in range(5))
    inter = _interactive(OutMessage(kind="choices", text="Daerah?", choices=regions + NAV))
    first, nav = inter["action"]["sections"]
    assert [r["id"] for r in first["rows"]] == [c.id for c in regions]
    assert [r["id"] for r in nav["rows"]] == ["nav:back", "nav:menu"]
    assert first["title"] == "Pilihan" and nav["title"] == "Navigasi"
    assert "footer" not in inter


@pytest.mark.parametrize(("label", "limit", "expected"), [
    ("Tidak ada lagi / lanjut", 20, "Tidak ada lagi…"),
    ("Permohonan MET-2612-BNSX7Q", 20, "MET-2612-BNSX7Q"),
    ("Permohonan MET-2612-BNSX7Q", 26, "Permohonan MET-2612-BNSX7Q"),
    ("Ajukan permohonan baru sekarang", 20, "Ajukan permohonan…"),
    ("Surat-keterangan-sehat-dari-dokter", 20, "Surat-keterangan…"),
])
def test_shorten_cuts_between_words_and_keeps_identifiers(label: str, limit: int,
                                                          expected: str) -> None:
    assert shorten(label, limit) == expected
    assert len(shorten(label, limit)) <= limit


def test_shorten_never_cuts_inside_a_word_on_random_labels() -> None:
    rng = random.Random(18)
    vocab = ["Surat", "izin", "praktik", "Okupasi", "Terapis", "dan", "/", "STR", "KTP",
             "rekomendasi", "organisasi", "profesi", "PWK-2611-ABC123", "(asli)", "yang",
             "masih", "berlaku", "Fotokopi", "ijazah", "dilegalisir"]
    for _ in range(2000):
        label = " ".join(rng.choice(vocab) for _ in range(rng.randint(1, 9)))
        for limit in (BUTTON_TITLE_MAX, ROW_TITLE_MAX, ROW_DESCRIPTION_MAX):
            out = shorten(label, limit)
            assert len(out) <= limit
            words = label.split()
            kept = out.rstrip("…").split()
            # Every word shown is one of the label's words, whole.
            assert all(w in words for w in kept), (label, limit, out)


def test_any_choice_set_renders_within_whatsapp_limits() -> None:
    rng = random.Random(3)
    for n in range(1, 16):
        choices = tuple(Choice(f"c:{i}", " ".join(["Pilihan"] * rng.randint(1, 8)) + f" {i}")
                        for i in range(n))
        for extra in ((), NAV[1:], NAV):
            for part in render(OutMessage(kind="choices", text="x" * rng.randint(1, 3000),
                                          choices=choices + extra), "id"):
                body = part.body
                if body["type"] == "text":
                    assert len(body["text"]["body"]) <= 4096
                    continue
                inter = body["interactive"]
                assert len(inter["body"]["text"]) <= 1024
                if inter["type"] == "button":
                    buttons = inter["action"]["buttons"]
                    assert 1 <= len(buttons) <= 3
                    assert all(len(b["reply"]["title"]) <= 20 for b in buttons)
                    assert not any(b["reply"]["id"].startswith("nav:") for b in buttons)
                else:
                    rows = [r for s in inter["action"]["sections"] for r in s["rows"]]
                    assert 1 <= len(rows) <= ROWS_MAX
                    assert all(len(r["title"]) <= 24 for r in rows)
                    assert all(len(r.get("description", "")) <= 72 for r in rows)
                    assert len(inter["action"]["button"]) <= 20
                    sections = inter["action"]["sections"]
                    assert len(sections) == 1 or all(len(s["title"]) <= 24 for s in sections)
                assert len(inter.get("footer", {}).get("text", "")) <= 60


def _buttons(markup) -> list:  # type: ignore[no-untyped-def,type-arg]
    return [b for row in markup.inline_keyboard for b in row]


def test_telegram_nine_categories_and_navigation_on_one_page() -> None:
    cats = tuple(Choice(f"g:{k}", k) for k in CATEGORIES)
    markup = keyboard(cats + NAV, outbox_id=7)
    data = [b.callback_data for b in _buttons(markup)]
    assert data == [c.id for c in cats] + ["nav:back", "nav:menu"]
    assert markup.inline_keyboard[-1] == markup.inline_keyboard[-1][:2]  # nav side by side


def test_telegram_pages_keep_navigation_and_have_no_dead_button() -> None:
    choices = tuple(Choice(f"r:{i}", f"Kota {i}") for i in range(30)) + NAV
    pages = page_count(choices)
    assert pages == -(-30 // PAGE_SIZE)
    seen: list[str] = []
    for page in range(pages):
        buttons = _buttons(keyboard(choices, page=page, outbox_id=12))
        data = [b.callback_data for b in buttons]
        assert data[-2:] == ["nav:back", "nav:menu"]
        turns = [d for d in data if d.startswith("~pg:")]
        # Each page turn leads to another page; none points at the page shown.
        assert f"~pg:12:{page}" not in turns
        assert len(turns) == (1 if page in (0, pages - 1) else 2)
        assert all(len(d.encode()) <= 64 for d in data)
        seen += [d for d in data if d.startswith("r:")]
    assert seen == [f"r:{i}" for i in range(30)]
