"""The catalog validator: a bad file raises CatalogError naming file, field and problem."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from licensing.catalog import Catalog, CatalogError, load_entry


def valid() -> dict[str, Any]:
    """A small standard that passes validation."""
    return {
        "source": "test.txt",
        "region": {
            "slug": "contoh",
            "name": "Kota Contoh",
            "office": "Dinas Penanaman Modal dan Pelayanan Terpadu Satu Pintu Kota Contoh",
            "code": "CTH",
            "timezone": "Asia/Jakarta",
        },
        "profession": {"slug": "okupasi-terapis", "name": "Okupasi Terapis"},
        "service": "Surat Izin Praktik Okupasi Terapis",
        "product": "Surat Izin Praktik Okupasi Terapis",
        "requirements": [
            {
                "code": "ijazah",
                "title": "Scan ijazah",
                "kind": "upload",
                "accepts": ["pdf", "jpeg"],
            },
            {"code": "map", "title": "Map 2 lembar", "kind": "elsewhere"},
        ],
        "positions": [{"slug": "petugas", "title": "Petugas"},
                      {"slug": "kepala", "title": "Kepala Dinas"}],
        "numbering": "before_signing",
        "e_signed": True,
        "procedure": [
            {"code": "pengajuan", "title": "Pemohon mengajukan", "role": "applicant"},
            {
                "code": "periksa",
                "title": "Petugas memeriksa",
                "role": "front_office",
                "position": "petugas",
                "actions": ["check_files"],
            },
            {
                "code": "tanda_tangan",
                "title": "Kepala Dinas menandatangani",
                "role": "head_of_office",
                "position": "kepala",
                "actions": ["sign"],
            },
        ],
        "deadline": {
            "days": 3,
            "unit": "working",
            "starts_on": "files_complete",
            "text": "3 hari kerja",
        },
        "fee_idr": 0,
        "fee_text": "Gratis",
        "complaints": {"channels": [{"kind": "email", "label": "Email", "value": "a@example.org"}]},
        "legal_basis": ["Undang-Undang Nomor 25 Tahun 2009 tentang Pelayanan Publik"],
        "survey_before_download": False,
    }


def write(root: Path, data: Any, rel: str = "contoh/okupasi-terapis.yaml") -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def error_for(path: Path) -> str:
    with pytest.raises(CatalogError) as info:
        load_entry(path)
    return str(info.value)


def test_the_valid_file_loads(tmp_path: Path) -> None:
    entry = load_entry(write(tmp_path, valid()))
    assert entry.key == ("contoh", "okupasi-terapis")
    catalog = Catalog.load(tmp_path)
    assert len(catalog) == 1


def test_a_missing_field(tmp_path: Path) -> None:
    data = valid()
    del data["deadline"]
    path = write(tmp_path, data)
    message = error_for(path)
    assert str(path) in message
    assert "  deadline: Field required" in message


def test_a_missing_nested_field(tmp_path: Path) -> None:
    data = valid()
    del data["region"]["timezone"]
    path = write(tmp_path, data)
    message = error_for(path)
    assert str(path) in message
    assert "region.timezone: Field required" in message


def test_an_upload_requirement_without_accepts(tmp_path: Path) -> None:
    data = valid()
    data["requirements"][0]["accepts"] = []
    path = write(tmp_path, data)
    message = error_for(path)
    assert str(path) in message
    assert "requirements.0" in message
    assert "must list the file kinds it accepts" in message


def test_an_elsewhere_requirement_with_accepts(tmp_path: Path) -> None:
    data = valid()
    data["requirements"][1]["accepts"] = ["pdf"]
    path = write(tmp_path, data)
    message = error_for(path)
    assert str(path) in message
    assert "requirements.1" in message
    assert "accepts no files" in message


def test_an_unknown_file_kind(tmp_path: Path) -> None:
    data = valid()
    data["requirements"][0]["accepts"] = ["docx"]
    path = write(tmp_path, data)
    message = error_for(path)
    assert "requirements.0.accepts.0" in message
    assert "'pdf', 'jpeg' or 'png'" in message


def test_duplicate_requirement_codes(tmp_path: Path) -> None:
    data = valid()
    data["requirements"][1]["code"] = "ijazah"
    path = write(tmp_path, data)
    message = error_for(path)
    assert str(path) in message
    assert "requirements: duplicate code(s) ijazah" in message


def test_duplicate_step_codes(tmp_path: Path) -> None:
    data = valid()
    data["procedure"][1]["code"] = "pengajuan"
    message = error_for(write(tmp_path, data))
    assert "procedure: duplicate code(s) pengajuan" in message


def test_a_wrong_deadline_unit(tmp_path: Path) -> None:
    data = valid()
    data["deadline"]["unit"] = "weeks"
    path = write(tmp_path, data)
    message = error_for(path)
    assert str(path) in message
    assert "deadline.unit" in message
    assert "'working' or 'calendar'" in message


def test_a_wrong_deadline_start(tmp_path: Path) -> None:
    data = valid()
    data["deadline"]["starts_on"] = "payment"
    message = error_for(write(tmp_path, data))
    assert "deadline.starts_on" in message


def test_no_head_of_office_step(tmp_path: Path) -> None:
    data = valid()
    data["procedure"][2]["role"] = "verifier"
    path = write(tmp_path, data)
    message = error_for(path)
    assert str(path) in message
    assert "procedure: no step is performed by the head of office" in message


def test_an_unknown_role(tmp_path: Path) -> None:
    data = valid()
    data["procedure"][1]["role"] = "clerk"
    message = error_for(write(tmp_path, data))
    assert "procedure.1.role" in message


def test_an_unknown_field(tmp_path: Path) -> None:
    data = valid()
    data["requirements"][0]["tittle"] = "typo"
    message = error_for(write(tmp_path, data))
    assert "requirements.0.tittle: Extra inputs are not permitted" in message


def test_a_bad_region_code(tmp_path: Path) -> None:
    data = valid()
    data["region"]["code"] = "cth"
    message = error_for(write(tmp_path, data))
    assert "region.code" in message


def test_no_requirements(tmp_path: Path) -> None:
    data = valid()
    data["requirements"] = []
    message = error_for(write(tmp_path, data))
    assert "requirements: Tuple should have at least 1 item" in message


def test_a_file_stored_under_the_wrong_profession(tmp_path: Path) -> None:
    path = write(tmp_path, valid(), "contoh/perekam-medis.yaml")
    message = error_for(path)
    assert str(path) in message
    assert "region.slug/profession.slug" in message
    assert "must be stored as contoh/okupasi-terapis.yaml" in message


def test_a_file_stored_under_the_wrong_region(tmp_path: Path) -> None:
    path = write(tmp_path, valid(), "lain/okupasi-terapis.yaml")
    message = error_for(path)
    assert str(path) in message
    assert "must be stored as contoh/okupasi-terapis.yaml" in message


def test_a_region_folder_that_only_ends_with_the_slug(tmp_path: Path) -> None:
    path = write(tmp_path, valid(), "kota-contoh/okupasi-terapis.yaml")
    error_for(path)


def test_a_file_that_is_not_a_mapping(tmp_path: Path) -> None:
    path = write(tmp_path, ["not", "a", "mapping"])
    message = error_for(path)
    assert str(path) in message
    assert "expected a mapping" in message


def test_a_file_that_is_not_yaml(tmp_path: Path) -> None:
    path = tmp_path / "contoh" / "okupasi-terapis.yaml"
    path.parent.mkdir()
    path.write_text("region: [unclosed\n", encoding="utf-8")
    message = error_for(path)
    assert str(path) in message
    assert "cannot read" in message


def test_the_catalog_reports_every_bad_file_together(tmp_path: Path) -> None:
    good = valid()
    write(tmp_path, good)
    bad_unit = copy.deepcopy(good)
    bad_unit["profession"] = {"slug": "perekam-medis", "name": "Perekam Medis"}
    bad_unit["deadline"]["unit"] = "weeks"
    first = write(tmp_path, bad_unit, "contoh/perekam-medis.yaml")
    no_head = copy.deepcopy(good)
    no_head["region"]["slug"] = "lain"
    no_head["procedure"][2]["role"] = "verifier"
    second = write(tmp_path, no_head, "lain/okupasi-terapis.yaml")
    with pytest.raises(CatalogError) as info:
        Catalog.load(tmp_path)
    message = str(info.value)
    assert str(first) in message and "deadline.unit" in message
    assert str(second) in message and "no step is performed by the head of office" in message


def test_an_empty_catalog(tmp_path: Path) -> None:
    with pytest.raises(CatalogError, match="no service standards found"):
        Catalog.load(tmp_path)


def test_a_step_takes_its_performer_from_its_position(tmp_path: Path) -> None:
    entry = load_entry(write(tmp_path, valid()))
    assert entry.step("tanda_tangan").performer == "Kepala Dinas"
    assert entry.step("tanda_tangan").position == "kepala"


def test_an_office_step_without_a_position(tmp_path: Path) -> None:
    data = valid()
    del data["procedure"][1]["position"]
    assert "procedure.periksa: an office step names its position" in error_for(
        write(tmp_path, data))


def test_an_undeclared_position(tmp_path: Path) -> None:
    data = valid()
    data["procedure"][1]["position"] = "kasir"
    assert "position kasir is not declared" in error_for(write(tmp_path, data))


def test_a_performer_that_is_not_its_positions_title(tmp_path: Path) -> None:
    data = valid()
    data["procedure"][1]["performer"] = "Kasir"
    assert "is not position petugas's title" in error_for(write(tmp_path, data))


def test_numbering_at_step_needs_a_number_step(tmp_path: Path) -> None:
    data = valid()
    data["numbering"] = "at_step"
    assert "numbering: at_step needs a step" in error_for(write(tmp_path, data))


def test_numbering_before_signing_needs_an_electronic_signature(tmp_path: Path) -> None:
    data = valid()
    data["e_signed"] = False
    assert "before_signing is for electronically signed" in error_for(write(tmp_path, data))


def test_may_combine_names_declared_positions(tmp_path: Path) -> None:
    data = valid()
    data["may_combine"] = [{"positions": ["petugas", "kasir"], "note": "x"}]
    assert "may_combine: position(s) kasir not declared" in error_for(write(tmp_path, data))
