"""The dialogue's typed vocabulary: choice ids through one encoder/decoder, the stored
state's schema version and its migrations, the typed draft; and what /status says
about a half-finished draft, uploads' progress lines, a complaint reusing a known name
(issue 18)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from conversations.engine import step
from conversations.state_schema import STATE_VERSION, STEP_RENAMES
from conversations.types import FileComplaint, InboundEvent, State
from conversations.vocab import ARITY, ChoiceId, Kind, StepName, cid
from tests.test_conversations import (
    APPLY_PWK,
    CATALOG,
    COMPLAIN_APP,
    DATA,
    ID,
    PDF,
    RUNNING_APP,
    STORY,
    ctx,
    last_text,
    run,
    texts,
)

FLOWS = Path(__file__).parent.parent / "conversations" / "flows"


@pytest.mark.parametrize("kind", list(Kind))
def test_every_choice_kind_round_trips(kind: Kind) -> None:
    args = tuple(f"a{i}" for i in range(ARITY.get(kind, 0)))
    raw = ChoiceId(kind, args).encode()
    assert ChoiceId.decode(raw) == ChoiceId(kind, args)


def test_ids_on_the_wire_keep_their_form() -> None:
    """Buttons already sent (Telegram messages, WhatsApp lists) must keep working."""
    assert cid(Kind.SURVEY, "PWK-2611-ABC234") == "!survey:PWK-2611-ABC234"
    assert cid(Kind.COMPLAINT_SETTLED, "ADU-PWK-2611-AAAAAA", "yes") == (
        "!ks:ADU-PWK-2611-AAAAAA:yes")
    assert ChoiceId.decode("k:app:PKU-2611-XYZ789") == ChoiceId(
        Kind.COMPLAINT_APPLICATION, ("PKU-2611-XYZ789",))
    assert ChoiceId.decode("i:apply") == ChoiceId(Kind.INFO_APPLY)  # fixed beats i:<topic>
    assert ChoiceId.decode("i:fee") == ChoiceId(Kind.TOPIC, ("fee",))
    assert ChoiceId.decode("se:speed:4") == ChoiceId(Kind.SURVEY_ELEMENT, ("speed", "4"))


@pytest.mark.parametrize("raw", [None, "", "zz:top", "r:", "!survey", "!ks:T", "m:nope"])
def test_ids_we_never_sent_decode_to_nothing(raw: str | None) -> None:
    assert ChoiceId.decode(raw) is None


def test_bad_ids_are_refused_when_made() -> None:
    with pytest.raises(ValueError):
        ChoiceId(Kind.REGION)  # needs its argument
    with pytest.raises(ValueError):
        cid(Kind.REGION, "x" * 70)  # over Telegram's 64 bytes


def test_no_flow_slices_choice_ids_by_position() -> None:
    for path in FLOWS.glob("*.py"):
        source = path.read_text()
        assert not re.search(r"choice_id\s*\[|cid\[\d*:|\.startswith\(\"[a-z!]+:\"\)",
                             source), path.name


# --- the stored state: version and migrations --------------------------------------


def test_states_are_stored_with_their_schema_version() -> None:
    st, _ = run(ID)
    stored = json.loads(json.dumps(st.to_dict()))
    assert stored["version"] == STATE_VERSION == 2


def test_a_waiting_applicant_at_a_renamed_step_continues_at_its_successor() -> None:
    """A v1 state (no version) waiting at "status.list" wakes up at the status, not the
    menu, and its back-stack is renamed too."""
    assert STEP_RENAMES["status.list"] is StepName.STATUS
    v1 = {"lang": "id", "step": "status.list", "data": {}, "history": ["menu.main"],
          "offered": [["nav:menu", "🏠 Menu utama"]]}
    st = State.from_dict(v1)
    assert st.step is StepName.STATUS and st.history == [StepName.MENU]
    assert st.version == STATE_VERSION
    result = step(st, InboundEvent.message("kembali"), ctx((RUNNING_APP,)))
    assert result.state.step is StepName.MENU  # back from the status, as before


def test_a_step_that_no_longer_exists_starts_over_at_the_menu() -> None:
    st = State.from_dict({"lang": "en", "step": "apply.gone", "history": ["apply.gone2"],
                          "version": 2})
    assert st.step is StepName.MENU and st.history == []
    assert State.from_dict({"step": "x.y"}).step is StepName.LANGUAGE  # no language yet


def test_a_state_from_newer_code_is_refused_not_guessed() -> None:
    with pytest.raises(ValueError):
        State.from_dict({"lang": "id", "step": "menu.main", "version": STATE_VERSION + 1})


# --- /status with a draft -----------------------------------------------------------


def test_status_shows_a_half_finished_draft_and_what_is_missing() -> None:
    st, _ = run([*APPLY_PWK, "Siti Aminah", DATA[1], "menu"])
    st, results = run(["/status"], state=st)
    text = last_text(results)
    entry = CATALOG.get("purwakarta", "okupasi-terapis")
    assert "belum memiliki permohonan" not in text
    assert f"Draf {entry.service} ({entry.region.name}) belum dikirim" in text
    assert "Nomor telepon, Tempat praktik, Nomor STR" in text
    assert f"Berkas: 0/{len(entry.uploads)} diterima" in text
    assert entry.uploads[0].title in text
    # "Lanjutkan draf" continues where it stopped: the phone number.
    st, _ = run(["Lanjutkan draf"], state=st)
    assert st.step is StepName.APPLY_PHONE


def test_status_with_a_draft_and_applications_shows_both() -> None:
    st, _ = run([*APPLY_PWK, *DATA, PDF, "menu"], apps=(RUNNING_APP,))
    _, results = run(["Status"], state=st, apps=(RUNNING_APP,))
    text = last_text(results)
    assert "PKU-2611-XYZ789" in text and "Berkas: 1/6 diterima" in text


# --- uploads ------------------------------------------------------------------------


def test_each_upload_gets_a_progress_line_not_the_whole_list() -> None:
    entry = CATALOG.get("purwakarta", "okupasi-terapis")
    files = [InboundEvent.upload(f"{n:064x}", "pdf", 1000) for n in range(3)]
    st, results = run([*APPLY_PWK, *DATA, *files])
    for n, r in enumerate(results[-3:], start=1):
        text = "\n".join(m.text for m in r.messages)
        assert f"({n}/{len(entry.uploads)})" in text
        assert f"Berikutnya: {entry.uploads[n].title}" in text
        assert "Daftar berkas:" not in text and "⬜" not in text
    # A refused file shows the whole list again.
    _, results = run([InboundEvent.upload("f" * 64, "zip", 10)], state=st)
    assert "Daftar berkas:" in texts(results)


def test_the_same_file_for_two_requirements_is_flagged() -> None:
    entry = CATALOG.get("purwakarta", "okupasi-terapis")
    _, results = run([*APPLY_PWK, *DATA, PDF, PDF])
    warning = "\n".join(m.text for m in results[-1].messages)
    assert "sama persis" in warning and entry.uploads[0].title in warning
    assert "Ganti berkas" in warning


def test_a_file_before_the_conversation_started_is_acknowledged() -> None:
    result = step(State(), PDF, ctx())
    text = "\n".join(m.text for m in result.messages)
    assert "Berkas Anda sudah sampai" in text and "not kept" in text
    assert "Silakan pilih bahasa" in text and not result.file_kept


def test_an_unrequested_file_is_not_kept_and_a_requested_one_is() -> None:
    st, _ = run(ID)
    assert not step(st, PDF, ctx()).file_kept  # at the menu: nobody asked
    st, _ = run([*APPLY_PWK, *DATA])
    assert step(st, PDF, ctx()).file_kept


# --- complaints reuse what the office knows -----------------------------------------


def test_a_complaint_offers_the_name_from_the_application() -> None:
    from dataclasses import replace

    app = replace(RUNNING_APP, full_name="Siti Aminah")
    st, results = run([*COMPLAIN_APP, "Jangka waktu", STORY, "Tidak ada lagi"], apps=(app,))
    labels = [c.label for c in results[-1].messages[-1].choices]
    assert labels[0] == "Sertakan nama saya: Siti Aminah"
    st, results = run(["1"], state=st, apps=(app,))
    assert st.step is StepName.COMPLAINT_CONFIRM  # the name is not asked again
    _, results = run(["Kirim"], state=st, apps=(app,))
    filed = results[-1].effects[0]
    assert isinstance(filed, FileComplaint)
    assert filed.name == "Siti Aminah" and not filed.anonymous
