"""Indonesian (and English) labels for the values office pages and exports show: a page
never prints a raw enum value such as "issued" or "permit_issued"."""

from __future__ import annotations

from licensing.catalog import Action

STATUS = {
    "id": {"open": "Dalam proses", "approved": "Disetujui", "rejected": "Ditolak",
           "issued": "Izin terbit", "withdrawn": "Ditarik pemohon", "revoked": "Dicabut"},
    "en": {"open": "In progress", "approved": "Approved", "rejected": "Rejected",
           "issued": "Permit issued", "withdrawn": "Withdrawn", "revoked": "Revoked"},
}
REVIEW = {
    "id": {"pending": "belum diperiksa", "accepted": "diterima", "rejected": "ditolak"},
    "en": {"pending": "not checked", "accepted": "accepted", "rejected": "rejected"},
}
ACTION = {
    "id": {Action.CHECK_FILES: "Pemeriksaan berkas", Action.RECEIPT: "Tanda terima berkas",
           Action.TECHNICAL_REVIEW: "Kajian teknis",
           Action.SITE_VISIT: "Catatan peninjauan lapangan",
           Action.RECOMMEND: "Rekomendasi teknis", Action.DRAFT: "Draf izin disusun",
           Action.INITIAL: "Paraf draf izin", Action.SIGN: "Tanda tangan",
           Action.APPROVE: "Setujui permohonan", Action.REJECT: "Tolak permohonan",
           Action.NUMBER: "Penomoran izin", Action.HAND_OVER: "Penyerahan berkas",
           Action.RETURN: "Dikembalikan", Action.SUBMIT: "Permohonan diajukan",
           Action.RESUBMIT: "Perbaikan berkas dikirim",
           Action.PERMIT_ISSUED: "Izin diterbitkan", Action.PERMIT_REVOKED: "Izin dicabut"},
    "en": {Action.CHECK_FILES: "Document check", Action.RECEIPT: "Receipt of files",
           Action.TECHNICAL_REVIEW: "Technical review", Action.SITE_VISIT: "Site visit note",
           Action.RECOMMEND: "Technical recommendation", Action.DRAFT: "Permit drafted",
           Action.INITIAL: "Draft initialled", Action.SIGN: "Signature",
           Action.APPROVE: "Approve", Action.REJECT: "Reject", Action.NUMBER: "Numbering",
           Action.HAND_OVER: "Hand-over", Action.RETURN: "Returned",
           Action.SUBMIT: "Application submitted", Action.RESUBMIT: "Corrections sent",
           Action.PERMIT_ISSUED: "Permit issued", Action.PERMIT_REVOKED: "Permit revoked"},
}


def _lang(lang: str) -> str:
    return "en" if lang == "en" else "id"


def status(value: str, lang: str = "id") -> str:
    return STATUS[_lang(lang)].get(value, value)


def review(value: str, lang: str = "id") -> str:
    return REVIEW[_lang(lang)].get(value, value)


def action(value: str, lang: str = "id") -> str:
    table = ACTION[_lang(lang)]
    try:
        return table[Action(value)]
    except ValueError:
        return value
