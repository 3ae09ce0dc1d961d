"""Every notice an applicant can receive (office steps, permit, complaint desk,
reminders), built with the longest inputs the office side accepts, fits each channel's
limits once rendered: Telegram 4096 per text and 64-byte callback data; WhatsApp 4096 per
text, 1024 per interactive body or caption, 3 buttons of 20 / 10 rows of 24 (issue 18)."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from bot.channels.telegram.render import MAX_TEXT, keyboard
from bot.channels.telegram.render import split_text as telegram_split
from bot.channels.whatsapp.render import render as whatsapp_render
from conversations.i18n import Translator
from conversations.types import Choice, OutMessage
from conversations.vocab import Kind, cid
from licensing.catalog import Catalog

CATALOG = Catalog.load()
BIGGEST = max(CATALOG, key=lambda e: sum(len(r.title) for r in e.uploads))
REG = "PKU-2611-ABC234"
TICKET = "ADU-PKU-2611-ABCDEF"
LONG = ("Mohon unggah ulang dengan hasil pindaian yang jelas, berwarna, seluruh halaman "
        "terlihat dan tidak terpotong, ") * 30  # reasons and answers staff may write


def notices(lang: str) -> dict[str, OutMessage]:
    t = Translator(lang)
    items = [{"title": r.title, "reason": LONG[:300]} for r in BIGGEST.uploads]
    step = BIGGEST.office_steps[0]
    label = t("steps.label", step=step)

    def choices(text: str, *pairs: tuple[str, str]) -> OutMessage:
        return OutMessage(kind="choices", text=text,
                          choices=tuple(Choice(i, label) for i, label in pairs))

    return {
        "documents_rejected": choices(
            t("office.documents_rejected", reg_no=REG, items=items),
            (cid(Kind.FIX, REG), t("office.fix_button", reg_no=REG))),
        "receipt": OutMessage(kind="text", text=t(
            "office.receipt", reg_no=REG, due_on=date(2026, 12, 2), days_left=7,
            unit="working")),
        "step_change": OutMessage(kind="text", text=t(
            "office.step_change", reg_no=REG, done=label, next=label,
            due_on=date(2026, 12, 2), days_left=-3, unit="working")),
        "approved": OutMessage(kind="text", text=t("office.approved", reg_no=REG, next=label)),
        "rejected": OutMessage(kind="text", text=t("office.rejected", reg_no=REG,
                                                   reasons=LONG[:2000])),
        "permit_ready": choices(
            t("survey.ready_with_survey", reg_no=REG, number="503/0001/SIPOT/DPMPTSP/XI/2026"),
            (cid(Kind.SURVEY, REG), t("survey.start_survey"))),
        "permit_revoked": OutMessage(kind="text", text=t(
            "survey.revoked", reg_no=REG, number="503/0001", reason=LONG[:1000])),
        "officer_answer": choices(
            t("complaint.officer_answer", ticket=TICKET, text=LONG[:3000]),
            (cid(Kind.COMPLAINT_ANSWER, TICKET), t("complaint.reply_button"))),
        "ask_settled": choices(
            t("complaint.ask_settled", ticket=TICKET),
            (cid(Kind.COMPLAINT_SETTLED, TICKET, "yes"), t("complaint.settled_yes")),
            (cid(Kind.COMPLAINT_SETTLED, TICKET, "no"), t("complaint.settled_no"))),
        "scans_missing": OutMessage(kind="text", text=t(
            "reminders.scans_missing", service=BIGGEST.service, days=7,
            missing=[r.title for r in BIGGEST.uploads])),
        "document_rejected": OutMessage(kind="text", text=t(
            "reminders.document_rejected", reg_no=REG, title=BIGGEST.uploads[0].title,
            reason=LONG[:300], days=5)),
        "permit_expiring": OutMessage(kind="text", text=t(
            "reminders.permit_expiring", number="503/0001", valid_until=date(2027, 1, 1),
            days=30)),
    }


def _whatsapp_texts(body: dict[str, Any]) -> list[tuple[str, int]]:
    """(text, its limit) of one rendered WhatsApp message."""
    if body["type"] == "text":
        return [(body["text"]["body"], 4096)]
    if body["type"] == "interactive":
        inner = body["interactive"]
        out = [(inner["body"]["text"], 1024)]
        action = inner["action"]
        for b in action.get("buttons", []):
            out.append((b["reply"]["title"], 20))
        for section in action.get("sections", []):
            out += [(row["title"], 24) for row in section["rows"]]
            out += [(row.get("description", ""), 72) for row in section["rows"]]
        return out
    return [(body[body["type"]].get("caption", ""), 1024)]


@pytest.mark.parametrize("lang", ["id", "en"])
@pytest.mark.parametrize("name", sorted(notices("id")))
def test_every_notice_fits_telegram_and_whatsapp(lang: str, name: str) -> None:
    message = notices(lang)[name]
    # Telegram: the text in chunks of at most 4096 (escaped), choices as callback data.
    for chunk in telegram_split(message.text):
        assert 0 < len(chunk) <= MAX_TEXT
    for row in keyboard(message.choices).inline_keyboard:
        for button in row:
            assert len((button.callback_data or "").encode()) <= 64
    # WhatsApp: every part of the rendering within its own limit, nothing lost.
    parts = whatsapp_render(message, lang)
    sent = ""
    for part in parts:
        for text, limit in _whatsapp_texts(part.body):
            assert len(text) <= limit, (name, limit, text)
        sent += " ".join(t for t, limit in _whatsapp_texts(part.body) if limit >= 1024)
    assert "".join(message.text.split())[:200] in "".join(sent.split())
    if message.choices:
        last = parts[-1].body
        assert last["type"] == "interactive"  # the buttons stay with the last part
