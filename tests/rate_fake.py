"""A fake platform Sender that enforces a platform's limits like the real servers do.

Global: a token bucket of `per_second` tokens (so at most `per_second` sends in any
second, bursts up to that); per chat: one message per `per_chat_interval` seconds. A send
beyond either is refused with SendResult(ok=False, retry_after=...), counted in
`too_many`, as the platforms answer 429. Optionally appends every accepted outbox id
with the wall-clock time to a file (one per line, flushed), so a test can count and
time deliveries across processes.
"""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path
from typing import TextIO

from notifications.dispatcher import Delivery, SendResult


class RateLimitedFake:
    def __init__(self, channel: str = "fake", *, per_second: float = 30.0,
                 per_chat_interval: float = 1.0, log_path: Path | None = None) -> None:
        self.channel = channel
        self.per_second = per_second
        self.per_chat_interval = per_chat_interval
        self.tokens = per_second
        self._last = time.monotonic()
        self._chat_last: dict[str, float] = {}
        self.too_many = 0
        self.delivered: Counter[int] = Counter()  # outbox id -> times delivered
        self.sent_at: dict[int, float] = {}  # outbox id -> monotonic time of delivery
        self.texts: dict[int, str] = {}
        self._log: TextIO | None = log_path.open("a") if log_path else None

    async def send(self, delivery: Delivery) -> SendResult:
        now = time.monotonic()
        self.tokens = min(self.per_second, self.tokens + (now - self._last) * self.per_second)
        self._last = now
        last = self._chat_last.get(delivery.chat_id)
        if last is not None and now - last < self.per_chat_interval:
            self.too_many += 1
            return SendResult(ok=False, retry_after=self.per_chat_interval - (now - last),
                              error="429 per chat")
        if self.tokens < 1:
            self.too_many += 1
            return SendResult(ok=False, retry_after=(1 - self.tokens) / self.per_second,
                              error="429 global")
        self.tokens -= 1
        self._chat_last[delivery.chat_id] = now
        self.delivered[delivery.outbox_id] += 1
        self.sent_at[delivery.outbox_id] = now
        self.texts[delivery.outbox_id] = delivery.message.text
        if self._log is not None:
            self._log.write(f"{delivery.outbox_id} {time.time():.3f}\n")
            self._log.flush()
        return SendResult(ok=True, platform_message_id=f"f{delivery.outbox_id}")

    def close(self) -> None:
        if self._log is not None:
            self._log.close()
