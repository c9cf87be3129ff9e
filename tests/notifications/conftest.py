"""Fixtures of the reminder tests: a real SMTP server (aiosmtpd) on 127.0.0.1, started
once for the session, and Django's mail pointed at it."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message as EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller


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


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def smtp_server() -> Iterator[tuple[Mailbox, int]]:
    """A real SMTP server on a free port of 127.0.0.1 for the whole session."""
    box = Mailbox()
    port = _free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield box, port
    finally:
        controller.stop()


@pytest.fixture
def mailbox(smtp_server: tuple[Mailbox, int], settings: Any) -> Mailbox:
    """The SMTP server, emptied, with Django's mail sent to it by SMTP, fast."""
    box, port = smtp_server
    box.clear()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = port
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_USE_SSL = False
    settings.EMAIL_TIMEOUT = 5
    settings.NOTIFICATIONS_RATE_PER_MINUTE = 60_000
    settings.NOTIFICATIONS_MAX_PER_RUN = 1000
    return box


@pytest.fixture
def closed_port() -> int:
    """A port of 127.0.0.1 nothing listens on."""
    return _free_port()
