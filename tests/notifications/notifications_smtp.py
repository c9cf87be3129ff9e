"""The SMTP server the reminder tests send to: aiosmtpd on 127.0.0.1, and what it received."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message as EmailMessage
from typing import Any


@dataclass
class Received:
    """One message the server accepted: when, to whom, and the parsed message."""

    at: float
    to: list[str]
    message: EmailMessage

    @property
    def subject(self) -> str:
        return str(self.message["Subject"])

    def text(self) -> str:
        """Return the plain-text part."""
        for part in self.message.walk():
            if part.get_content_type() == "text/plain":
                payload = part.get_payload(decode=True)
                assert isinstance(payload, bytes)
                return payload.decode(part.get_content_charset() or "utf-8")
        return ""


@dataclass
class Mailbox:
    """What the SMTP server received; ``refuse`` makes it answer 451 to every message."""

    messages: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    refuse: bool = False

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.refuse:
            return "451 4.3.0 Mailbox temporarily unavailable"
        with self.lock:
            self.messages.append(
                Received(
                    time.monotonic(), list(envelope.rcpt_tos), message_from_bytes(envelope.content)
                )
            )
        return "250 Message accepted for delivery"

    def clear(self) -> None:
        with self.lock:
            self.messages.clear()
        self.refuse = False

    def to(self, address: str) -> list[Received]:
        with self.lock:
            return [m for m in self.messages if address in m.to]
