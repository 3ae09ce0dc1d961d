"""Telegram's part of the inbound pipeline (service/pipeline.py): a recorded update ->
the turn to run. Callback queries are answered here (the spinner), list pages turned
by editing the message; updates without a chat need no turn.
"""

from __future__ import annotations

import logging

from aiogram import Bot
from aiogram.exceptions import TelegramAPIError
from aiogram.types import CallbackQuery, Update

from bot.channels.telegram import CHANNEL
from bot.channels.telegram.inbound import Downloader, chat_of, event_without_download, parse
from bot.channels.telegram.render import keyboard, parse_page, split_text
from conversations.types import InboundEvent, OutMessage
from service.inbound import Runtime
from service.pipeline import Recorded, Turn, Unhandleable
from storage.models import OutboxMessage

log = logging.getLogger(__name__)


class UpdateWorker:
    """The channel adapter: `prepare` turns a recorded update into a `Turn`."""

    channel = CHANNEL

    def __init__(self, runtime: Runtime, bot: Bot, downloader: Downloader) -> None:
        self.runtime = runtime
        self.bot = bot
        self.downloader = downloader

    async def prepare(self, row: Recorded) -> Turn | None:
        try:
            update_ = parse(row.payload)
        except ValueError as exc:  # pydantic's ValidationError: never readable
            raise Unhandleable(f"unreadable update: {str(exc)[:500]}") from exc
        chat_id = chat_of(update_)
        if chat_id is None:
            return None
        cq = update_.callback_query
        if cq is not None:
            await self._answer(cq)
            page = parse_page(cq.data or "")
            if page is not None:
                await self._turn_page(cq, chat_id, *page)
                return None
            return Turn(str(chat_id), InboundEvent.choose(cq.data or ""),
                        display_name=cq.from_user.full_name)
        message = update_.message
        if message is None:  # pragma: no cover - chat_of returned None above
            return None
        event, blob = await self.downloader.event_of(message)
        sender = message.from_user
        return Turn(str(chat_id), event, display_name=sender.full_name if sender else None,
                    blob=blob)

    def quick_turn(self, update_: Update) -> Turn | None:
        """The turn of an update that needs nothing from Telegram before it runs (typed
        text, a button press that is not a page turn), for the webhook to run at once;
        None for the rest (files to download, page turns), which are recorded."""
        chat_id = chat_of(update_)
        if chat_id is None:
            return None
        cq = update_.callback_query
        if cq is not None:
            if parse_page(cq.data or "") is not None:
                return None
            return Turn(str(chat_id), InboundEvent.choose(cq.data or ""),
                        display_name=cq.from_user.full_name)
        message = update_.message
        event = event_without_download(message) if message is not None else None
        if message is None or event is None:
            return None
        sender = message.from_user
        return Turn(str(chat_id), event, display_name=sender.full_name if sender else None)

    async def answer(self, cq: CallbackQuery) -> None:
        await self._answer(cq)

    async def _answer(self, cq: CallbackQuery) -> None:
        # Stops the client's spinner; a late or repeated answer is refused, harmlessly.
        try:
            await self.bot.answer_callback_query(cq.id)
        except TelegramAPIError as exc:
            log.info("answerCallbackQuery: %s", exc.message)

    async def _turn_page(self, cq: CallbackQuery, chat_id: int, outbox_id: int,
                         page: int) -> None:
        """Show another page of a long list: the list is the outbox row's own message."""
        async with self.runtime.sessions() as session:
            row = await session.get(OutboxMessage, outbox_id)
        if row is None or row.channel != CHANNEL or row.chat_id != str(chat_id):
            return
        message = OutMessage.from_payload(row.payload)
        if cq.message is None or not message.choices:
            return
        try:
            await self.bot.edit_message_text(
                chat_id=chat_id, message_id=cq.message.message_id,
                text=split_text(message.text)[-1], parse_mode="HTML",
                reply_markup=keyboard(message.choices, page=page, outbox_id=outbox_id))
        except TelegramAPIError as exc:  # "message is not modified" and the like
            log.info("editMessageText: %s", exc.message)
