"""Table-driven tests of the dialogue: events in, messages out, no database.

Every registered step has a path that reaches it from a fresh chat; at every step
`help`, `back`, `cancel` and a restart (the state through JSON, as the database
stores it) are checked.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import pytest

from conversations.engine import step
from conversations.i18n import message_keys
from conversations.turn import STEPS
from conversations.types import (
    ApplicationView,
    ComplaintReply,
    ComplaintSettled,
    Context,
    DocumentView,
    FileComplaint,
    InboundEvent,
    OutMessage,
    PermitView,
    ResubmitDocuments,
    SetLanguage,
    State,
    StepResult,
    SubmitApplication,
)
from licensing.calendar import WorkingCalendar
from licensing.catalog import Catalog

CATALOG = Catalog.load()
CALENDAR = WorkingCalendar()
NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)  # Monday 09:00 WIB
NIK = "3201015701900001"
PDF = InboundEvent.upload("a" * 64, "pdf", 1000)

REJECTED_APP = ApplicationView(
    reg_no="PWK-2611-ABC234", region="purwakarta", profession="okupasi-terapis",
    step_code="pemeriksaan_berkas", step_since=NOW, status="open", submitted_at=NOW,
    documents=(DocumentView("ijazah", "rejected", "Buram, tidak terbaca"),
               DocumentView("str", "accepted")),
)
RUNNING_APP = ApplicationView(
    reg_no="PKU-2611-XYZ789", region="pekanbaru", profession="okupasi-terapis",
    step_code="blanko", step_since=NOW, status="open", submitted_at=NOW,
    clock_started_on=date(2026, 11, 23), due_on=date(2026, 11, 25),
)

ISSUED_APP = ApplicationView(
    reg_no="MET-2611-ABC123", region="metro", profession="okupasi-terapis",
    step_code="terbit", step_since=NOW, status="issued", submitted_at=NOW,
    permit=PermitView(status="issued", number="503/0001/SIPOT/DPMPTSP/XI/2026",
                      blob_sha256="ab" * 32, survey_required=True),
)


def ctx(apps: tuple[ApplicationView, ...] = ()) -> Context:
    return Context(now=NOW, catalog=CATALOG, calendar=CALENDAR, new_code=lambda: "K7Q2ZP",
                   applications=apps)


def ev(x: str | InboundEvent) -> InboundEvent:
    return x if isinstance(x, InboundEvent) else InboundEvent.message(x)


def run(inputs: list[str | InboundEvent], *, state: State | None = None,
        apps: tuple[ApplicationView, ...] = (), restart: bool = False
        ) -> tuple[State, list[StepResult]]:
    """Feed inputs one by one; with restart=True the state goes through JSON each time."""
    st = state or State()
    results = []
    for item in inputs:
        if restart:
            st = State.from_dict(json.loads(json.dumps(st.to_dict())))
        r = step(st, ev(item), ctx(apps))
        results.append(r)
        st = r.state
    return st, results


def texts(results: list[StepResult]) -> str:
    return "\n".join(m.text for r in results for m in r.messages)


def last_text(results: list[StepResult]) -> str:
    return "\n".join(m.text for m in results[-1].messages)


# --- a path to every step -----------------------------------------------------------
ID = ["halo", "1"]
APPLY_PWK = [*ID, "Ajukan", "Purwakarta", "Okupasi", "Mulai"]
DATA = [NIK_LINE := "Siti Aminah", NIK, "0812 3456 7890", "RSUD Bayu Asih", "3201 5 2 1 24-1234567"]
PWK_UPLOADS = 6
APPLY_LLG = [*ID, "Ajukan", "Lubuklinggau", "Okupasi", "Mulai", *DATA]

COMPLAIN_APP = [*ID, "Pengaduan", "Permohonan PKU-2611-XYZ789"]
STORY = "Sudah lewat dua hari kerja, belum ada kabar tentang berkas saya."

STEP_PATHS: dict[str, tuple[list[str | InboundEvent], tuple[ApplicationView, ...]]] = {
    "start.language": (["halo"], ()),
    "menu.main": (ID, ()),
    "info.region": ([*ID, "Informasi"], ()),
    "info.profession": ([*ID, "Informasi", "Metro"], ()),
    "info.topic": ([*ID, "Informasi", "Metro", "Okupasi"], ()),
    "apply.start": ([*ID, "Ajukan"], ()),
    "apply.profession": ([*ID, "Ajukan", "Purwakarta"], ()),
    "apply.intro": ([*ID, "Ajukan", "Purwakarta", "Okupasi"], ()),
    "apply.full_name": (APPLY_PWK, ()),
    "apply.nik": ([*APPLY_PWK, "Siti Aminah"], ()),
    "apply.phone": ([*APPLY_PWK, "Siti Aminah", NIK], ()),
    "apply.place": ([*APPLY_PWK, *DATA[:3]], ()),
    "apply.str_number": ([*APPLY_PWK, *DATA[:4]], ()),
    "apply.conditions": (APPLY_LLG, ()),
    "apply.scans": ([*APPLY_PWK, *DATA], ()),
    "apply.pick_scan": ([*APPLY_PWK, *DATA, PDF, "Ganti berkas"], ()),
    "apply.review": ([*APPLY_PWK, *DATA, *[PDF] * PWK_UPLOADS], ()),
    "apply.edit_field": ([*APPLY_PWK, *DATA, *[PDF] * PWK_UPLOADS, "Ubah data"], ()),
    "status.overview": ([*ID, "Status"], (RUNNING_APP,)),
    "survey.question": ([*ID, InboundEvent.choose("!survey:MET-2611-ABC123")], (ISSUED_APP,)),
    "fix.scans": ([*ID, "Status", "Perbaiki berkas"], (REJECTED_APP,)),
    "complaint.about": ([*ID, "Pengaduan"], (RUNNING_APP,)),
    "complaint.region": ([*ID, "Pengaduan", "Pelayanan perizinan"], ()),
    "complaint.profession": ([*ID, "Pengaduan", "Pelayanan perizinan", "Metro"], ()),
    "complaint.category": (COMPLAIN_APP, (RUNNING_APP,)),
    "complaint.text": ([*COMPLAIN_APP, "Jangka waktu"], (RUNNING_APP,)),
    "complaint.attachments": ([*COMPLAIN_APP, "Jangka waktu", STORY], (RUNNING_APP,)),
    "complaint.identity": ([*COMPLAIN_APP, "Jangka waktu", STORY, "Tidak ada lagi"],
                           (RUNNING_APP,)),
    "complaint.name": ([*COMPLAIN_APP, "Jangka waktu", STORY, "Tidak ada lagi",
                        "Sertakan identitas saya"], (RUNNING_APP,)),
    "complaint.confirm": ([*COMPLAIN_APP, "Jangka waktu", STORY, "Tidak ada lagi", "anonim"],
                          (RUNNING_APP,)),
    "complaint.reply": ([*ID, InboundEvent.choose("!kr:ADU-PKU-2611-AAAAAA")], ()),
}


def test_every_step_has_a_path() -> None:
    assert set(STEP_PATHS) == set(STEPS)


@pytest.mark.parametrize("name", sorted(STEP_PATHS))
def test_path_reaches_step_also_across_restarts(name: str) -> None:
    inputs, apps = STEP_PATHS[name]
    plain, plain_results = run(inputs, apps=apps)
    restarted, restarted_results = run(inputs, apps=apps, restart=True)
    assert plain.step == name, texts(plain_results)
    assert restarted.to_dict() == plain.to_dict()
    assert [r.messages for r in restarted_results] == [r.messages for r in plain_results]


@pytest.mark.parametrize("name", sorted(set(STEP_PATHS) - {"start.language"}))
@pytest.mark.parametrize("word", ["help", "bantuan", "/help"])
def test_help_everywhere_explains_and_stays(name: str, word: str) -> None:
    inputs, apps = STEP_PATHS[name]
    st, _ = run(inputs, apps=apps)
    after, results = run([word], state=st, apps=apps)
    assert after.step == name
    first = results[0].messages[0].text
    assert first and first != results[0].messages[-1].text  # help text, then the question
    assert "belum memahami" not in texts(results)


@pytest.mark.parametrize("name", sorted(set(STEP_PATHS) - {"start.language", "menu.main"}))
@pytest.mark.parametrize("word", ["cancel", "batal", "/cancel", "menu"])
def test_cancel_everywhere_returns_to_the_menu(name: str, word: str) -> None:
    inputs, apps = STEP_PATHS[name]
    st, _ = run(inputs, apps=apps)
    after, results = run([word], state=st, apps=apps)
    assert after.step == "menu.main"
    assert "Menu utama" in last_text(results)


@pytest.mark.parametrize("name", sorted(set(STEP_PATHS) - {"start.language", "menu.main"}))
def test_back_everywhere_returns_to_the_previous_question(name: str) -> None:
    inputs, apps = STEP_PATHS[name]
    before, _ = run(inputs[:-1], apps=apps)
    st, _ = run(inputs[-1:], state=before, apps=apps)
    after, _ = run(["kembali"], state=st, apps=apps)
    # Back returns to where the last answer was given (or the menu for jumps from it).
    assert after.step in {before.step, "menu.main"}, (before.step, after.step)
    assert after.step != name or before.step == name


def test_languages_define_the_same_messages() -> None:
    assert message_keys("id") == message_keys("en")
    assert len(message_keys("id")) > 80


# --- flows ---------------------------------------------------------------------------


def test_first_message_asks_for_a_language_in_both() -> None:
    _, results = run(["selamat pagi"])
    text = last_text(results)
    assert "Silakan pilih bahasa" in text and "Please choose a language" in text
    assert [c.label for c in results[0].messages[-1].choices] == ["Bahasa Indonesia", "English"]


def test_english_is_english_throughout() -> None:
    st, results = run(["hi", "2", "Apply", "Metro"])
    assert results[1].effects == (SetLanguage("en"),)
    assert "Choose a profession in Kota Metro" in last_text(results)
    assert st.lang == "en"


@pytest.mark.parametrize(("topic", "expected"), [
    ("Persyaratan", "Scan fotokopi ijazah yang dilegalisir"),
    ("Prosedur", "Tim Teknis melaksanakan verifikasi"),
    ("Jangka waktu", "7 hari kerja sejak diterimanya berkas permohonan secara lengkap dan benar"),
    ("Biaya", "Gratis"),
    ("Produk", "Surat Izin Praktik Okupasi Terapis dengan tanda tangan elektronik"),
    ("Dasar hukum", "Undang-Undang Nomor 36 Tahun 2014 tentang Tenaga Kesehatan"),
    ("Pengaduan", "paling lambat 30 hari kalender"),
])
def test_information_topics_carry_the_published_text(topic: str, expected: str) -> None:
    st, results = run([*ID, "Informasi", "Purwakarta", "Okupasi Terapis", topic])
    assert expected in last_text(results) or expected in texts(results[-1:])
    assert st.step == "info.topic"  # the topic menu is offered again


def test_typed_number_and_label_pick_the_same_choice() -> None:
    by_number, _ = run([*ID, "2"])
    by_label, _ = run([*ID, "ajukan"])
    assert by_number.step == by_label.step == "apply.start"


def test_nonsense_gets_a_clear_answer_and_changes_nothing() -> None:
    st, _ = run(ID)
    after, results = run(["qwerty zzz"], state=st)
    assert "belum memahami" in texts(results)
    assert after.step == st.step and after.data == st.data


def test_a_stale_button_is_answered_for_the_current_step() -> None:
    st, _ = run([*ID, "Ajukan"])
    after, results = run([InboundEvent.choose("m:status")], state=st)
    assert "pesan sebelumnya" in texts(results)
    assert after.step == "apply.start"


@pytest.mark.parametrize(("answer", "message"), [
    ("123", "Nama lengkap harus"),
    ("A", "Nama lengkap harus"),
    ("<script>x</script>", "Nama lengkap harus"),
])
def test_bad_names_are_refused(answer: str, message: str) -> None:
    st, results = run([*APPLY_PWK, answer])
    assert message in last_text(results)
    assert st.step == "apply.full_name" and "full_name" not in st.data["draft"]


@pytest.mark.parametrize(("nik", "message"), [
    ("12345", "tepat 16 angka"),
    ("9901015701900001", "kode provinsi"),
    ("3200015701900001", "kabupaten/kota"),
    ("3201013201900001", "Tanggal lahir"),
    ("3201011701900000", "0000"),
])
def test_bad_niks_are_refused_with_the_reason(nik: str, message: str) -> None:
    st, results = run([*APPLY_PWK, "Siti Aminah", nik])
    assert message in last_text(results)
    assert st.step == "apply.nik" and "nik" not in st.data["draft"]


def test_bad_phone_and_place_are_refused() -> None:
    st, results = run([*APPLY_PWK, "Siti Aminah", NIK, "12"])
    assert "bukan nomor telepon Indonesia" in last_text(results) and st.step == "apply.phone"
    st, results = run(["0812 3456 7890", "??"], state=st)
    assert "Tempat praktik harus" in last_text(results) and st.step == "apply.place"


@pytest.mark.parametrize("code", ["empty", "too_large", "unsupported_type", "pdf_broken",
                                  "pdf_encrypted", "image_broken", "image_too_large"])
def test_each_upload_refusal_is_explained_and_changes_nothing(code: str) -> None:
    st, _ = run([*APPLY_PWK, *DATA])
    params = {"limit_mb": "10"} if code == "too_large" else {}
    after, results = run([InboundEvent.upload_rejected(code, **params)], state=st)
    assert "Tidak ada yang disimpan" in texts(results)
    assert after.data == st.data and after.step == "apply.scans"


def test_conditions_add_or_drop_the_conditional_scan() -> None:
    entry = CATALOG.get("lubuklinggau", "okupasi-terapis")
    conditional = next(r for r in entry.uploads if r.condition)
    st, results = run([*APPLY_LLG, "Ya"])
    assert st.data["draft"]["conditions"] == {conditional.condition: True}
    assert conditional.title in last_text(results)
    st, results = run([*APPLY_LLG, "Tidak"])
    assert conditional.title not in last_text(results)


def test_checklist_replace_remove_review_submit() -> None:
    entry = CATALOG.get("purwakarta", "okupasi-terapis")
    first, second = entry.uploads[0], entry.uploads[1]
    other = InboundEvent.upload("b" * 64, "jpeg", 500)
    st, results = run([*APPLY_PWK, *DATA, PDF])
    # A short progress line after an upload; the whole list on request.
    assert last_text(results) == (f"✅ Diterima: {first.title} (1/{PWK_UPLOADS})\n"
                                  f"Berikutnya: {second.title}\n"
                                  "(PDF, JPG atau PNG, paling besar 10 MB)")
    st, results = run(["Daftar berkas"], state=st)
    assert f"✅ {first.title}" in last_text(results) and f"⬜ {second.title}" in last_text(results)
    # replace the first scan
    st, _ = run(["Ganti berkas", "1", other], state=st)
    assert st.data["draft"]["scans"][first.code] == "b" * 64
    # remove it, then the checklist asks for it again
    st, results = run(["Hapus berkas", "1"], state=st)
    assert first.code not in st.data["draft"]["scans"]
    assert f"Silakan kirim pindaian: {first.title}" in last_text(results)
    st, results = run([PDF] * PWK_UPLOADS, state=st)
    assert st.step == "apply.review"
    review = last_text(results)
    assert "NIK: 3201**********01" in review and NIK not in review
    st, results = run(["Kirim permohonan"], state=st)
    submit = results[0].effects[0]
    assert isinstance(submit, SubmitApplication)
    assert submit.reg_no == "PWK-2611-K7Q2ZP" and submit.nik == NIK
    assert set(submit.scans) == {r.code for r in entry.uploads}
    assert any(m.kind == "image" and m.qr == submit.reg_no for m in results[0].messages)
    assert "draft" not in st.data and st.step == "menu.main"


def test_cancel_keeps_the_draft_and_apply_offers_to_continue() -> None:
    st, _ = run([*APPLY_PWK, "Siti Aminah", "batal"])
    assert st.data["draft"]["full_name"] == "Siti Aminah"
    st, results = run(["Ajukan"], state=st)
    assert "belum dikirim" in last_text(results)
    st, _ = run(["Lanjutkan draf"], state=st)
    assert st.step == "apply.nik"


def test_edit_one_field_from_review_returns_to_review() -> None:
    st, _ = run([*APPLY_PWK, *DATA, *[PDF] * PWK_UPLOADS, "Ubah data", "Nomor telepon",
                 "0813 1111 2222"])
    assert st.step == "apply.review" and st.data["draft"]["phone"] == "6281311112222"


def test_status_shows_step_and_deadline_in_working_days() -> None:
    _, results = run([*ID, "Status"], apps=(RUNNING_APP,))
    text = last_text(results)
    assert "PKU-2611-XYZ789" in text
    assert "Penyusunan draf izin — " in text  # the step's short name
    assert "Batas waktu: 25 November 2026 — 2 hari kerja lagi" in text


def test_status_with_no_applications() -> None:
    _, results = run([*ID, "Status"])
    assert "belum memiliki permohonan" in last_text(results)


def test_fix_rejected_scan_and_send_back() -> None:
    st, results = run([*ID, "Status", "Perbaiki berkas"], apps=(REJECTED_APP,))
    assert "Buram, tidak terbaca" in last_text(results)
    st, results = run([PDF, "Kirim perbaikan"], state=st, apps=(REJECTED_APP,))
    assert results[-1].effects == (ResubmitDocuments("PWK-2611-ABC234", {"ijazah": "a" * 64}),)
    assert st.step == "menu.main"


@pytest.mark.parametrize(("payload", "step_name"), [
    ("info_purwakarta_perekam-medis", "info.topic"),
    ("apply_metro_okupasi-terapis", "apply.intro"),
    ("status_PKU-2611-XYZ789", "status.overview"),
    ("nonsense_x", "start.language"),  # not a link we know: a plain /start
    ("info_atlantis_okupasi-terapis", "menu.main"),  # unknown service: said, then the menu
])
def test_deep_links(payload: str, step_name: str) -> None:
    st, results = run([f"/start {payload}"], apps=(RUNNING_APP,))
    assert st.step == step_name, texts(results)
    assert st.lang == ("id" if step_name != "start.language" else None)


def test_outgoing_messages_round_trip_through_the_outbox_payload() -> None:
    _, results = run([*APPLY_PWK])
    for r in results:
        for m in r.messages:
            assert OutMessage.from_payload(json.loads(json.dumps(m.to_payload()))) == m
            for c in m.choices:
                assert len(c.id.encode()) <= 64


def test_complaint_about_an_application_gets_a_ticket_at_once() -> None:
    st, results = run([*COMPLAIN_APP, "Jangka waktu", STORY, PDF, "Tidak ada lagi",
                       "Sertakan identitas saya", "Siti Aminah", "Kirim"], apps=(RUNNING_APP,))
    filed = results[-1].effects[0]
    assert isinstance(filed, FileComplaint)
    assert filed.ticket_no == "ADU-PKU-2611-K7Q2ZP" and filed.reg_no == "PKU-2611-XYZ789"
    assert filed.category == "time" and filed.kind == "complaint" and not filed.anonymous
    assert filed.attachments == ("a" * 64,) and filed.name == "Siti Aminah"
    assert "Nomor tiket: ADU-PKU-2611-K7Q2ZP" in texts(results[-1:])
    assert filed.due_on == date(2026, 12, 11)  # 14 working days from Mon 23 Nov 2026
    assert st.step == "menu.main" and "complaint" not in st.data


def test_anonymous_complaint_in_purwakarta_is_recorded_as_a_suggestion() -> None:
    _, results = run([*ID, "/pengaduan", "Pelayanan perizinan", "Purwakarta", "Perekam",
                      "Perilaku petugas", STORY, "Tidak ada lagi", "anonim", "Kirim"])
    filed = results[-1].effects[0]
    assert isinstance(filed, FileComplaint)
    assert (filed.kind, filed.suggestion_reason) == ("suggestion", "anonymous")
    assert "Saran/masukan Anda telah diterima" in texts(results[-1:])


def test_a_reply_button_works_from_any_step() -> None:
    st, _ = run([*APPLY_PWK, "Siti Aminah"])  # in the middle of an application
    st, results = run([InboundEvent.choose("!kr:ADU-PWK-2611-AAAAAA"), "Sudah saya cek."],
                      state=st)
    assert results[-1].effects == (ComplaintReply("ADU-PWK-2611-AAAAAA", "Sudah saya cek."),)
    assert st.data["draft"]["full_name"] == "Siti Aminah"  # the draft is untouched
    st, results = run([InboundEvent.choose("!ks:ADU-PWK-2611-AAAAAA:yes")], state=st)
    assert results[-1].effects == (ComplaintSettled("ADU-PWK-2611-AAAAAA", True),)


def test_the_engine_never_mutates_the_state_it_was_given() -> None:
    st, _ = run([*APPLY_PWK, *DATA])
    snapshot = json.dumps(st.to_dict(), sort_keys=True)
    step(st, PDF, ctx())
    assert json.dumps(st.to_dict(), sort_keys=True) == snapshot


@pytest.mark.parametrize("text", ["12", "STR", "3201/??/2024", "1" * 41])
def test_bad_str_numbers_are_refused_and_nothing_is_kept(text: str) -> None:
    st, results = run([*APPLY_PWK, *DATA[:4], text])
    assert "Nomor STR harus" in last_text(results)
    assert st.step == "apply.str_number" and "str_number" not in st.data["draft"]


def test_str_number_is_kept_in_capitals_and_shown_for_review() -> None:
    st, _ = run([*APPLY_PWK, *DATA[:4], "kt 00 0000123"])
    assert st.data["draft"]["str_number"] == "KT 00 0000123"
    assert st.step != "apply.str_number"
