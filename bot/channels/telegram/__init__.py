"""The Telegram channel: aiogram as the client, the conversation engine as the brain.

No business state lives in aiogram (no FSM): an update is recorded, turned into an
`InboundEvent` and handed to `Runtime.handle`; replies leave through the outbox.
"""

CHANNEL = "telegram"
