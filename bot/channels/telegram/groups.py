"""Updates from groups, supergroups and channels: never an applicant conversation.

An application asks for a name, NIK and phone number; none of that belongs in front of
a group. A command addressed to the bot in a group is answered with one message that
links to a private chat with the bot, and nothing is stored: no inbound row, no
applicant. Each group hears that answer at most once per `COOLDOWN` seconds in this
process, so a busy group cannot make the bot spam it.
"""

from __future__ import annotations

import asyncio
import logging
import time

from aiogram import Bot
from aiogram.exceptions import TelegramAPIError
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup, Update

from conversations.i18n import Translator

log = logging.getLogger(__name__)

COOLDOWN = 60.0
PRIVATE = "private"


def is_private(update: Update) -> bool:
    """True for a private chat, or an update that names no chat (handled as before)."""
    if update.message is not None:
        return update.message.chat.type == PRIVATE
    cq = update.callback_query
    if cq is not None and cq.message is not None:
        return cq.message.chat.type == PRIVATE
    return True


class GroupAnswers:
    def __init__(self, bot: Bot, *, cooldown: float = COOLDOWN) -> None:
        self.bot = bot
        self.cooldown = cooldown
        self._last: dict[int, float] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def take(self, update: Update) -> None:
        """A group update: answer a command with the private-chat link, in the
        background (the webhook's 200 does not wait for the Bot API)."""
        msg = update.message
        if msg is None or not (msg.text or "").startswith("/"):
            return  # only commands are addressed to the bot; other group talk is not ours
        now = time.monotonic()
        if now - self._last.get(msg.chat.id, -self.cooldown) < self.cooldown:
            return
        self._last[msg.chat.id] = now
        lang = "en" if (msg.from_user and (msg.from_user.language_code or "")
                        .startswith("en")) else "id"
        task = asyncio.create_task(self._answer(msg.chat.id, msg.message_id, lang))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def wait(self) -> None:
        """Until the answers in flight are sent (tests, shutdown)."""
        if self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def _answer(self, chat_id: int, reply_to: int, lang: str) -> None:
        t = Translator(lang)
        try:
            me = await self.bot.me()
            link = f"https://t.me/{me.username}"
            await self.bot.send_message(
                chat_id=chat_id, text=t("telegram.group_private"),
                reply_to_message_id=reply_to,
                reply_markup=InlineKeyboardMarkup(inline_keyboard=[[
                    InlineKeyboardButton(text=t("telegram.group_button"), url=link)]]))
        except TelegramAPIError as exc:
            log.info("group answer not sent: %s", type(exc).__name__)
