"""New and escalated complaints posted to the office's staff chat on Telegram
(IZIN_TELEGRAM_STAFF_CHAT_ID), each once, with a link to the ticket's back-office page.

A notice is marked posted right after Telegram confirms it (`telegram_sent_at`); a
process that dies between the two posts that one notice again: at least once, never
lost. A 429 stops the round; the next one continues.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Callable
from datetime import datetime

from aiogram import Bot
from aiogram.exceptions import TelegramAPIError, TelegramRetryAfter
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage.models import StaffNotice

log = logging.getLogger(__name__)
KINDS = ("complaint_new", "complaint_escalated")
HEADINGS = {"complaint_new": "Pengaduan baru", "complaint_escalated": "Pengaduan naik level"}


async def post_staff_notices(sessions: async_sessionmaker[AsyncSession], bot: Bot, *,
                             chat_id: str, public_base_url: str,
                             clock: Callable[[], datetime], limit: int = 20) -> int:
    async with sessions() as session:
        notices = list((await session.scalars(
            select(StaffNotice).where(StaffNotice.kind.in_(KINDS),
                                      StaffNotice.telegram_sent_at.is_(None))
            .order_by(StaffNotice.id).limit(limit))).all())
    posted = 0
    for notice in notices:
        link = f"{public_base_url.rstrip('/')}/office/complaints/{notice.ref}"
        text = (f"<b>{HEADINGS[notice.kind]}</b> — {html.escape(notice.region)}\n"
                f"{html.escape(notice.text)}\n{html.escape(link)}")
        try:
            await bot.send_message(chat_id=chat_id, text=text[:4096], parse_mode="HTML")
        except TelegramRetryAfter:
            break
        except TelegramAPIError as exc:
            log.warning("staff notice %s not posted: %s", notice.id, exc.message)
            break
        async with sessions() as session, session.begin():
            await session.execute(update(StaffNotice).where(StaffNotice.id == notice.id)
                                  .values(telegram_sent_at=clock()))
        posted += 1
    return posted
