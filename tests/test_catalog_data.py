"""The real catalog: the five published standards load and carry the seeds exactly."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from licensing.catalog import Catalog, CatalogEntry, DayUnit, Role

SEEDS = Path(__file__).resolve().parents[2] / "shared" / "seeds"

KEYS = {
    ("purwakarta", "okupasi-terapis"),
    ("purwakarta", "perekam-medis"),
    ("lubuklinggau", "okupasi-terapis"),
    ("pekanbaru", "okupasi-terapis"),
    ("metro", "okupasi-terapis"),
}

# What a staff member may do at a step; the back office offers exactly these.
ACTIONS = {
    "check_files",
    "receipt",
    "technical_review",
    "site_visit",
    "recommend",
    "draft",
    "initial",
    "sign",
    "approve",
    "reject",
    "number",
    "hand_over",
}


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return Catalog.load()


def entry(catalog: Catalog, region: str, profession: str = "okupasi-terapis") -> CatalogEntry:
    return catalog.get(region, profession)


# --- seed text normalisation ------------------------------------------------------

_TAG = re.compile(r"<[^>]+>")
_SPACE = re.compile(r"\s+")
# Layout left where a seed's table breaks across pages: the repeated header row and
# markdown table rules/pipes. Only used for complaint-handling steps that span a break.
_TABLE_RULES = re.compile(r"\|[\s|-]*")
_TABLE_HEADER = re.compile(r"\bNO\.?\s+KOMPONEN\s+URAIAN\b")


def normalise(text: str) -> str:
    """Strip HTML tags and collapse whitespace."""
    return _SPACE.sub(" ", _TAG.sub("", text)).strip()


def normalise_layout(text: str) -> str:
    """`normalise`, and also drop the table scaffolding left by page breaks."""
    without_rules = normalise(_TABLE_RULES.sub(" ", normalise(text)))
    return normalise(_TABLE_HEADER.sub(" ", without_rules))


def seed_text(name: str) -> str:
    return normalise((SEEDS / name).read_text(encoding="utf-8"))


# --- the catalog loads --------------------------------------------------------------


def test_the_five_standards_exist(catalog: Catalog) -> None:
    keys = {e.key for e in catalog}
    assert keys >= KEYS


def test_each_standard_names_its_seed(catalog: Catalog) -> None:
    sources = {e.key: e.source for e in catalog}
    assert sources[("purwakarta", "okupasi-terapis")].startswith("000_")
    assert sources[("lubuklinggau", "okupasi-terapis")].startswith("001_")
    assert sources[("pekanbaru", "okupasi-terapis")].startswith("002_")
    assert sources[("purwakarta", "perekam-medis")].startswith("003_")
    assert sources[("metro", "okupasi-terapis")].startswith("004_")


def test_regions(catalog: Catalog) -> None:
    codes = {r.slug: r.code for r in catalog.regions()}
    assert codes == {"purwakarta": "PWK", "lubuklinggau": "LLG", "pekanbaru": "PKU", "metro": "MET"}
    assert all(r.timezone == "Asia/Jakarta" for r in catalog.regions())
    assert [p.slug for p in catalog.professions("purwakarta")] == [
        "okupasi-terapis",
        "perekam-medis",
    ]


def test_a_region_is_described_the_same_in_each_of_its_files(catalog: Catalog) -> None:
    ot = entry(catalog, "purwakarta")
    pm = entry(catalog, "purwakarta", "perekam-medis")
    assert ot.region == pm.region


# --- requirements -----------------------------------------------------------------


def test_purwakarta_ot_requirements(catalog: Catalog) -> None:
    e = entry(catalog, "purwakarta")
    assert len(e.requirements) == 6
    assert len(e.uploads) == 6
    assert e.requirements[0].title == "Scan fotokopi ijazah yang dilegalisir"
    assert e.requirements[1].title == "Scan STR-OT yang masih berlaku"
    assert e.requirement("pas_foto").accepts[0] == "jpeg"


def test_perekam_medis_requirements(catalog: Catalog) -> None:
    e = entry(catalog, "purwakarta", "perekam-medis")
    assert len(e.uploads) == 6
    assert e.requirements[0].title == "Scan fotokopi ijazah yang dilegalisasi"
    assert "STR-PR" in e.requirements[1].title


def test_lubuklinggau_requirements(catalog: Catalog) -> None:
    e = entry(catalog, "lubuklinggau")
    assert len(e.requirements) == 10
    assert e.requirement("adaptasi").condition == "foreign_graduate"
    folder = e.requirement("map")
    assert folder.title == "Map 2 lembar"
    assert folder.kind == "elsewhere"
    assert folder.accepts == ()
    assert len(e.uploads) == 9


def test_pekanbaru_requirements(catalog: Catalog) -> None:
    e = entry(catalog, "pekanbaru")
    assert len(e.requirements) == 10
    assert e.requirements[0].title == "Surat Permohonan"
    renewal = [r for r in e.requirements if r.condition == "renewal"]
    assert [r.title for r in renewal] == ["Surat izin kerja asli (bagi perpanjangan)"]


def test_metro_requirements(catalog: Catalog) -> None:
    e = entry(catalog, "metro")
    assert len(e.uploads) == 1
    assert e.uploads[0].title == "Surat Keterangan Tempat Terapis Okupasional"
    assert e.requirements[0].title == "Mambuat Akun MPPD"  # the published spelling
    assert all(r.kind == "elsewhere" for r in e.requirements[:3])


def test_titles_carry_no_list_numbering_or_separators(catalog: Catalog) -> None:
    for e in catalog:
        for text in [r.title for r in e.requirements] + list(e.legal_basis):
            assert not re.match(r"^([0-9]+|[a-z])[.)]\s", text), (e.key, text)
            assert not text.endswith((";", "; dan")), (e.key, text)


# --- procedure ----------------------------------------------------------------------


def test_pekanbaru_procedure_has_the_nine_sop_steps(catalog: Catalog) -> None:
    e = entry(catalog, "pekanbaru")
    assert len(e.procedure) == 9
    assert all(s.published for s in e.procedure)
    head = e.procedure[6]
    assert head.role is Role.HEAD_OF_OFFICE
    assert head.performer == "Kepala Dinas"
    assert head.duration is not None
    assert (head.duration.days, head.duration.unit) == (1, DayUnit.WORKING)
    minutes = [s.duration.minutes for s in e.procedure if s.duration and s.duration.minutes]
    assert minutes == [3, 35, 3, 5, 10, 10, 3, 1]
    assert [s.role for s in e.procedure[3:6]] == [Role.VERIFIER] * 3
    numbering = e.procedure[7]
    assert numbering.role is Role.BACK_OFFICE
    assert numbering.note is not None and "inferred" in numbering.note


def test_lubuklinggau_adds_the_unpublished_steps_it_implies(catalog: Catalog) -> None:
    e = entry(catalog, "lubuklinggau")
    published = [s for s in e.procedure if s.published]
    assert len(published) == 4
    assert e.procedure[:4] == tuple(published)  # the published steps come first
    head = [s for s in e.procedure if s.role is Role.HEAD_OF_OFFICE]
    assert len(head) == 1
    assert head[0].published is False
    assert head[0].performer == "Kepala DPM-PTSP"
    assert "Nomor 8 Tahun 2022" in (head[0].note or "")
    issuing = e.step("pengolahan_penerbitan")
    assert issuing.role is Role.BACK_OFFICE
    assert issuing.performer == "Kasi Pengolahan dan Penerbitan Izin Non Usaha"
    assert e.procedure.index(issuing) < e.procedure.index(head[0])


def test_purwakarta_procedure(catalog: Catalog) -> None:
    for profession in ("okupasi-terapis", "perekam-medis"):
        e = entry(catalog, "purwakarta", profession)
        assert len(e.procedure) == 11
        assert all(s.published for s in e.procedure)
        assert e.procedure[7].role is Role.HEAD_OF_OFFICE
        assert e.procedure[7].performer == "Kepala DPMPTSP"
        assert [s.role for s in e.procedure[5:7]] == [Role.TECHNICAL_TEAM] * 2
        assert "SKM" in e.procedure[9].title
        assert e.procedure[9].role is Role.APPLICANT


def test_metro_procedure_is_the_online_list(catalog: Catalog) -> None:
    e = entry(catalog, "metro")
    assert len(e.procedure) == 9
    assert e.procedure[0].title.startswith("Pemohon mendownload aplikasi MPP")
    assert "Perbantuan" in (e.procedure[0].note or "")
    assert e.procedure[5].role is Role.VERIFIER
    assert e.procedure[6].role is Role.HEAD_OF_OFFICE
    assert set(e.procedure[6].actions) == {"sign", "reject"}
    assert e.procedure[-2].title == "Pemohon mengisi IKM"


def test_actions_come_from_the_vocabulary(catalog: Catalog) -> None:
    for e in catalog:
        for s in e.procedure:
            assert set(s.actions) <= ACTIONS, (e.key, s.code, s.actions)
            if s.role is Role.APPLICANT:
                assert s.actions == (), (e.key, s.code)
            else:
                assert s.actions, f"{e.key} {s.code}: a staff step offers no action"


def test_every_head_of_office_step_can_sign_or_decide(catalog: Catalog) -> None:
    for e in catalog:
        heads = [s for s in e.procedure if s.role is Role.HEAD_OF_OFFICE]
        assert heads, e.key
        assert any({"sign", "approve"} & set(s.actions) for s in heads), e.key


def test_unpublished_steps_say_why(catalog: Catalog) -> None:
    for e in catalog:
        for s in e.procedure:
            if not s.published:
                assert s.note, (e.key, s.code)


# --- deadline, fee, flags -----------------------------------------------------------


@pytest.mark.parametrize(
    ("region", "profession", "days", "unit", "starts_on"),
    [
        ("purwakarta", "okupasi-terapis", 7, DayUnit.WORKING, "files_complete"),
        ("purwakarta", "perekam-medis", 7, DayUnit.WORKING, "files_complete"),
        ("lubuklinggau", "okupasi-terapis", 14, DayUnit.CALENDAR, "technical_complete"),
        ("pekanbaru", "okupasi-terapis", 2, DayUnit.WORKING, "files_complete"),
        ("metro", "okupasi-terapis", 3, DayUnit.WORKING, "files_complete"),
    ],
)
def test_deadlines(
    catalog: Catalog, region: str, profession: str, days: int, unit: DayUnit, starts_on: str
) -> None:
    d = entry(catalog, region, profession).deadline
    assert (d.days, d.unit, d.starts_on) == (days, unit, starts_on)


def test_lubuklinggau_deadline_is_in_calendar_days(catalog: Catalog) -> None:
    d = entry(catalog, "lubuklinggau").deadline
    assert d.unit is DayUnit.CALENDAR
    assert d.days == 14
    assert "kerja" not in d.text  # why calendar: the published text says no "hari kerja"


def test_metro_deadline_excludes_the_technical_recommendation(catalog: Catalog) -> None:
    assert entry(catalog, "metro").deadline.excludes == "Rekomendasi Teknis"


@pytest.mark.parametrize(
    ("region", "profession", "fee_text"),
    [
        ("purwakarta", "okupasi-terapis", "Gratis"),
        ("purwakarta", "perekam-medis", "Gratis"),
        ("lubuklinggau", "okupasi-terapis", "Rp.0,- (gratis)"),
        ("pekanbaru", "okupasi-terapis", "Pelayanan ini tidak berbiaya (GRATIS)"),
        ("metro", "okupasi-terapis", "Tidak dikenakan retribusi."),
    ],
)
def test_fees(catalog: Catalog, region: str, profession: str, fee_text: str) -> None:
    e = entry(catalog, region, profession)
    assert e.fee_idr == 0
    assert e.fee_text == fee_text


@pytest.mark.parametrize(
    ("region", "profession", "survey", "e_signed", "qr"),
    [
        ("purwakarta", "okupasi-terapis", True, True, False),
        ("purwakarta", "perekam-medis", True, True, False),
        ("lubuklinggau", "okupasi-terapis", False, False, False),
        ("pekanbaru", "okupasi-terapis", False, False, False),
        ("metro", "okupasi-terapis", True, True, True),
    ],
)
def test_survey_and_signature_flags(
    catalog: Catalog, region: str, profession: str, survey: bool, e_signed: bool, qr: bool
) -> None:
    e = entry(catalog, region, profession)
    assert (e.survey_before_download, e.e_signed, e.qr_verifiable) == (survey, e_signed, qr)


def test_only_pekanbaru_reminds_about_uncollected_permits(catalog: Catalog) -> None:
    reminders = {e.key: e.uncollected_reminder_days for e in catalog}
    assert reminders.pop(("pekanbaru", "okupasi-terapis")) == 30
    assert set(reminders.values()) == {None}


def test_systems(catalog: Catalog) -> None:
    systems = {e.key: e.system for e in catalog}
    assert systems[("purwakarta", "okupasi-terapis")] == "SiCantik Cloud"
    assert systems[("purwakarta", "perekam-medis")] == "SiCantik Cloud"
    assert systems[("pekanbaru", "okupasi-terapis")] is None
    assert systems[("metro", "okupasi-terapis")] == "MPPD"


# --- complaints ---------------------------------------------------------------------


def test_purwakarta_complaint_rules(catalog: Catalog) -> None:
    c = entry(catalog, "purwakarta").complaints
    assert c.suggestion_after_days == 30
    assert c.answer_within is not None
    assert (c.answer_within.days, c.answer_within.unit) == (14, DayUnit.WORKING)
    assert len(c.channels) == 13  # published items a. to m.
    assert {"whatsapp", "sms", "email", "twitter", "instagram", "form", "box"} <= {
        ch.kind for ch in c.channels
    }
    assert any("APIP" in step for step in c.handling_steps)


def test_pekanbaru_complaint_grades(catalog: Catalog) -> None:
    c = entry(catalog, "pekanbaru").complaints
    assert c.grades == ("ringan", "sedang", "berat")
    for grade in c.grades:
        assert any(grade in step.lower() for step in c.handling_steps), grade


def test_metro_complaints(catalog: Catalog) -> None:
    c = entry(catalog, "metro").complaints
    assert c.handling_steps == (
        "Verifikasi aduan",
        "Mediasi",
        "Koordinasi dan cek lokasi",
        "Penyelesaian/Sanksi",
    )
    assert [ch.label for ch in c.channels if ch.kind == "lapor"] == ["SP4N Lapor"]


# --- carried exactly ----------------------------------------------------------------

needs_seeds = pytest.mark.skipif(
    not SEEDS.is_dir(), reason=f"the seed standards are not available at {SEEDS}"
)


def _cases() -> list[tuple[str, str]]:
    return sorted(KEYS)


@needs_seeds
@pytest.mark.parametrize(("region", "profession"), _cases())
def test_published_text_is_carried_verbatim(catalog: Catalog, region: str, profession: str) -> None:
    """Every published title and text occurs word for word in its seed."""
    e = entry(catalog, region, profession)
    seed = seed_text(e.source)
    texts: list[tuple[str, str]] = [
        ("product", e.product),
        ("deadline.text", e.deadline.text),
        ("fee_text", e.fee_text),
    ]
    texts += [(f"requirements.{r.code}", r.title) for r in e.requirements]
    texts += [(f"procedure.{s.code}", s.title) for s in e.procedure if s.published]
    texts += [(f"legal_basis.{i}", item) for i, item in enumerate(e.legal_basis)]
    texts += [
        (f"complaints.channels.{i}", ch.value)
        for i, ch in enumerate(e.complaints.channels)
        if ch.value
    ]
    if e.deadline.excludes:
        texts.append(("deadline.excludes", e.deadline.excludes))
    missing = [(where, text) for where, text in texts if text not in seed]
    assert not missing, f"{e.source}: not found verbatim: {missing}"
    # The service is headed in the seed (Pekanbaru heads it in capitals).
    assert e.service.lower() in seed.lower()


@needs_seeds
@pytest.mark.parametrize(("region", "profession"), _cases())
def test_complaint_handling_is_carried_verbatim(
    catalog: Catalog, region: str, profession: str
) -> None:
    """Handling steps are published text too; some span a page break of the seed table."""
    e = entry(catalog, region, profession)
    seed = normalise_layout((SEEDS / e.source).read_text(encoding="utf-8"))
    missing = [step for step in e.complaints.handling_steps if step not in seed]
    assert not missing, f"{e.source}: not found verbatim: {missing}"


def test_normalise_strips_tags_and_whitespace() -> None:
    assert normalise("<li>1. Scan <i>STR</i>\n\t  yang</li>") == "1. Scan STR yang"
    assert normalise_layout("secara |\n\n| NO | KOMPONEN | URAIAN |\n|--|---|\n| | | b") == (
        "secara b"
    )


def test_the_typos_are_kept(catalog: Catalog) -> None:
    """The seeds' spelling is carried, not corrected."""
    assert "kelender" in (entry(catalog, "purwakarta").complaints.text or "")
    metro = entry(catalog, "metro")
    assert metro.step("unggah_data").title == "Pemohon megisi atau mengupload data yang diperlukan"
    assert metro.step("pemeriksaan_data").title == (
        "Pemeriksaan kesusaian data oleh penata perizinan"
    )
    # The two Purwakarta seeds spell the office's handles differently; each is carried.
    twitter = {
        prof: [
            ch.value
            for ch in entry(catalog, "purwakarta", prof).complaints.channels
            if ch.kind == "twitter"
        ]
        for prof in ("okupasi-terapis", "perekam-medis")
    }
    assert twitter == {"okupasi-terapis": ["dpmpptsp_pwk"], "perekam-medis": ["dpmptsp_pwk"]}


def test_pekanbaru_names_the_sops_seven_performers(catalog: Catalog) -> None:
    e = catalog.get("pekanbaru", "okupasi-terapis")
    assert [p.title for p in e.positions] == [
        "Pemohon", "Front Office", "Back Office", "JF Analis Kebijakan Ahli Muda",
        "JF Analis Kebijakan Ahli Madya", "Sekretaris", "Kepala Dinas"]
    assert [s.performer for s in e.procedure] == [
        "Pemohon", "Front Office", "Back Office", "JF Analis Kebijakan Ahli Muda",
        "JF Analis Kebijakan Ahli Madya", "Sekretaris", "Kepala Dinas", "Back Office",
        "Pemohon"]
    assert e.numbering.value == "at_step" and e.may_combine == ()


def test_every_office_step_names_a_declared_position(catalog: Catalog) -> None:
    for e in catalog:
        for s in e.office_steps:
            assert s.position is not None and e.position(s.position).title == s.performer
