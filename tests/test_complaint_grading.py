"""Grade proposals on realistic complaints: whole words and phrases, Indonesian affixes.

The corpus was written for this test (light, medium, heavy); the light ones carry the
words a substring match used to trip on ("ruang" holds "uang", "calon" holds "calo").
"""

from __future__ import annotations

import pytest

from licensing.complaints import matched_keywords, propose_grade, word_forms

LIGHT = [
    ("Ruang tunggu panas sekali, AC-nya mati sejak pagi.", "facilities"),
    ("Ruangan pelayanan sempit dan kursinya kurang.", "facilities"),
    ("Tidak ada peluang bertanya karena loket informasi kosong.", "procedure"),
    ("Saya calon pemohon, informasi persyaratan di website membingungkan.", "requirements"),
    ("Para calon terapis bingung formulir mana yang harus diisi.", "requirements"),
    ("Apakah uang muka pendaftaran di bank bisa dikembalikan kalau berkas kurang?", "cost"),
    ("Toilet di ruang tunggu kotor dan tidak ada sabun.", "facilities"),
    ("Parkir motor penuh, mohon ditambah lahan parkir.", "facilities"),
    ("Mesin nomor antrean rusak, jadi harus tanya satpam.", "facilities"),
    ("Loket buka pukul 08.30 padahal papan menulis pukul 08.00.", "other"),
    ("Tulisan di papan persyaratan terlalu kecil untuk dibaca.", "requirements"),
    ("Keuangan saya terbatas, mohon info apakah ada biaya fotokopi di lokasi.", "cost"),
    ("Mohon disediakan ruang laktasi untuk ibu menyusui.", "facilities"),
    ("Peluang magang di kantor ini apakah ada? Sekalian saya mau tanya izin.", "other"),
    ("Kolom alamat di formulir daring terlalu pendek.", "procedure"),
]
MEDIUM = [
    ("Izin saya terlambat dua minggu dari jadwal.", "procedure"),
    ("Sudah lewat batas 2 hari kerja tapi belum ada kabar sama sekali.", "procedure"),
    ("Berkas ijazah saya hilang di loket, disuruh unggah ulang.", "requirements"),
    ("Petugas loket berbicara kasar ketika saya bertanya.", "other"),
    ("Saya dibentak petugas karena lupa membawa fotokopi KTP.", "other"),
    ("Permohonan saya ditolak tanpa alasan yang jelas.", "procedure"),
    ("Pesan saya di WhatsApp diabaikan berhari-hari.", "other"),
    ("Pelayanannya lambat sekali, tiga jam menunggu.", "other"),
    ("Proses sudah melebihi waktu yang dijanjikan standar pelayanan.", "procedure"),
    ("Surat izin yang terbit salah ketik nama saya.", "product"),
]
HEAVY = [
    ("Saya dimintai uang pelicin Rp 500.000 supaya izin cepat keluar.", "cost"),
    ("Ada calo di depan kantor yang menawarkan jasa percepatan.", "other"),
    ("Praktik percaloan terjadi di loket dua setiap hari.", "other"),
    ("Oknum petugas meminta uang rokok setelah berkas saya diterima.", "other"),
    ("Petugas mengancam berkas saya tidak diproses kalau saya melapor.", "other"),
    ("Saya dilecehkan secara verbal oleh petugas di ruang tunggu.", "other"),
    ("Ada pungli untuk mengambil surat izin yang sudah jadi.", "cost"),
    ("Kami dipungut biaya Rp 150.000 padahal layanan ini gratis.", "cost"),
    ("Teman saya menyuap petugas agar antreannya didahulukan.", "other"),
    ("Pemohon dari luar kota mendapat perlakuan diskriminasi di loket.", "other"),
]


@pytest.mark.parametrize(("text", "category"), LIGHT)
def test_light_complaints_are_proposed_light(text: str, category: str) -> None:
    assert propose_grade(text, category, alleges_money_or_misconduct=False) == "ringan"


@pytest.mark.parametrize(("text", "category"), MEDIUM)
def test_medium_complaints_are_proposed_medium(text: str, category: str) -> None:
    assert propose_grade(text, category, alleges_money_or_misconduct=False) == "sedang"


@pytest.mark.parametrize(("text", "category"), HEAVY)
def test_heavy_complaints_are_proposed_heavy(text: str, category: str) -> None:
    assert propose_grade(text, category, alleges_money_or_misconduct=False) == "berat"


def test_the_corpus_is_large_enough() -> None:
    assert len(LIGHT) + len(MEDIUM) + len(HEAVY) >= 30
    assert min(len(LIGHT), len(MEDIUM), len(HEAVY)) >= 10


@pytest.mark.parametrize(("word", "stem", "present"), [
    ("ruang", "uang", False), ("peluang", "uang", False), ("calon", "calo", False),
    ("percaloan", "calo", True), ("calonya", "calo", True), ("menyuap", "suap", True),
    ("disuap", "suap", True), ("diancam", "ancam", True), ("ancaman", "ancam", True),
    ("dimintai", "minta", True), ("meminta", "minta", True), ("keuangan", "uang", True),
])
def test_affixes_come_off_whole(word: str, stem: str, present: bool) -> None:
    assert (stem in word_forms(word)) is present


def test_phrases_match_only_as_consecutive_words() -> None:
    assert matched_keywords("diminta uang pelicin", ("uang pelicin",)) == ["uang pelicin"]
    assert matched_keywords("uang muka, pelicin mesin", ("uang pelicin",)) == []
    assert matched_keywords("Ruang tunggu", ("uang",)) == []
