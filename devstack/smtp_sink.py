"""An SMTP server (aiosmtpd) that keeps every accepted message as an ``.eml`` file.

``make run`` uses it as the local mail sink; tests use :class:`MailSink` as a real SMTP
peer and can make it refuse or reject messages to exercise the failure paths.
"""

from __future__ import annotations

import argparse
import hashlib
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session


@dataclass
class EmlWriter:
    """aiosmtpd handler: one file per accepted message, named by arrival and content hash."""

    directory: Path
    rejected_recipients: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)
    accepted: int = 0

    async def handle_RCPT(  # noqa: N802 - aiosmtpd hook name
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if address.lower() in self.rejected_recipients:
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(  # noqa: N802 - aiosmtpd hook name
        self, server: SMTP, session: Session, envelope: Envelope
    ) -> str:
        content = envelope.original_content or b""
        digest = hashlib.sha256(content).hexdigest()[:12]
        with self.lock:
            self.accepted += 1
            name = f"{time.time_ns()}-{self.accepted:06d}-{digest}.eml"
        self.directory.mkdir(parents=True, exist_ok=True)
        (self.directory / name).write_bytes(content)
        return f"250 2.0.0 queued as {digest}"


class MailSink:
    """A running SMTP sink on ``host:port`` writing to ``directory``."""

    def __init__(self, directory: Path, host: str = "127.0.0.1", port: int = 1025) -> None:
        self.handler = EmlWriter(directory)
        self.directory = directory
        self.host = host
        self.port = port
        self._controller: Controller | None = None

    def start(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        self._controller = Controller(self.handler, hostname=self.host, port=self.port)
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def messages(self) -> list[Path]:
        """Stored messages, oldest first."""
        return sorted(self.directory.glob("*.eml"))


def main() -> None:
    parser = argparse.ArgumentParser(description="SMTP sink that stores mails as .eml files")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=1025)
    parser.add_argument("--dir", type=Path, required=True)
    options = parser.parse_args()
    sink = MailSink(options.dir, options.host, options.port)
    sink.start()
    print(f"SMTP sink on {options.host}:{options.port}, mails in {options.dir}", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        sink.stop()


if __name__ == "__main__":
    main()
