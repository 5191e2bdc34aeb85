"""A local SMTP relay for the demo and the tests: a real aiosmtpd server that stores what it accepts."""


from __future__ import annotations

import threading
import warnings
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword, Session

from sandbox.store import HOST, Faults, NumberedFolder, parse_mail

# aiosmtpd 1.4 sets its own deprecated Session.login_data on every login and warns about it each time.
warnings.filterwarnings("ignore", message="Session.login_data is deprecated")


@dataclass(frozen=True)
class ReceivedMail:
    mail_from: str
    rcpt_tos: list[str]
    raw: bytes
    message: EmailMessage
    path: Path


class _PortZeroController(Controller):
    """aiosmtpd connects to its own host:port to finish starting; with port 0 it must first learn the bound port."""

    def _trigger_server(self) -> None:
        assert self.server is not None
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


class CaptureSmtpServer:
    """An SMTP relay on 127.0.0.1 that stores what it accepts, with the refusals a real relay can answer.

    It speaks SMTPUTF8 (internationalised addresses), as Postfix and the big relays do. With credentials it
    advertises AUTH PLAIN/LOGIN without TLS and, like a real relay, refuses mail from an
    unauthenticated session (530). The handle_* methods are aiosmtpd's hooks; they run on the server's own thread.
    """

    def __init__(self, folder: Path, username: str | None = None, password: str | None = None,
                 fault_share: float = 0, fault_seed: int | None = None):
        self.host = HOST
        self.reject_recipients: dict[str, int] = {}
        if (username is None) != (password is None):
            raise ValueError("give both username and password, or neither")
        self._credentials = None if username is None or password is None else (username.encode(), password.encode())
        self._store = NumberedFolder(folder)
        self._lock = threading.Lock()
        self._messages: list[ReceivedMail] = []
        self._refused: list[ReceivedMail] = []
        self._faults = Faults(fault_share, fault_seed)
        self._failures = 0
        self._failure_reply = ""
        auth: dict[str, Any] = {"authenticator": self._authenticate, "auth_require_tls": False}
        self._controller = _PortZeroController(
            self, hostname=HOST, port=0, server_hostname="localhost", enable_SMTPUTF8=True,
            **(auth if self._credentials else {})
        )

    @property
    def port(self) -> int:
        return self._controller.port

    @property
    def messages(self) -> list[ReceivedMail]:
        with self._lock:
            return list(self._messages)

    @property
    def refused(self) -> list[ReceivedMail]:
        """Messages whose DATA was answered with a refusal (fail_next or the fault share), in order."""
        with self._lock:
            return list(self._refused)

    def fail_next(self, count: int, code: int = 451, text: str | None = None) -> None:
        """Answer the next `count` DATA commands with `code` (4xx transient, 5xx permanent) and store nothing."""
        if not 400 <= code < 600:
            raise ValueError(f"SMTP failure code must be 4xx or 5xx, not {code}")
        default = "Temporary local problem, try again later" if code < 500 else "Message rejected"
        with self._lock:
            self._failures = count
            self._failure_reply = f"{code} {code // 100}.3.0 {text or default}"

    def start(self) -> None:
        self._controller.start()

    def stop(self) -> None:
        self._controller.stop()

    def __enter__(self) -> CaptureSmtpServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _authenticate(
        self, server: Any, session: Session, envelope: Envelope, mechanism: str, auth_data: LoginPassword
    ) -> AuthResult:
        """handled=False lets aiosmtpd answer 535; its default (True) sends nothing and leaves the client hanging."""
        return AuthResult(success=(auth_data.login, auth_data.password) == self._credentials, handled=False)

    async def handle_MAIL(
        self, server: Any, session: Session, envelope: Envelope, address: str, mail_options: list[str]
    ) -> str:
        if self._credentials and not session.authenticated:
            return "530 5.7.0 Authentication required"
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(
        self, server: Any, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        code = self.reject_recipients.get(address)
        if code:
            return f"{code} {code // 100}.1.1 <{address}>: Recipient address rejected"
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        assert envelope.mail_from is not None
        with self._lock:
            if self._failures or self._faults.strike():
                reply = self._failure_reply if self._failures else "451 4.3.0 Temporary local problem, try again later"
                self._failures = max(self._failures - 1, 0)
                path = self._store.write(".refused", raw)
                self._refused.append(ReceivedMail(envelope.mail_from, list(envelope.rcpt_tos), raw, parse_mail(raw),
                                                  path))
                return reply
            path = self._store.write(".eml", raw)
            mail = ReceivedMail(envelope.mail_from, list(envelope.rcpt_tos), raw, parse_mail(raw), path)
            self._messages.append(mail)
        return f"250 2.0.0 OK: queued as {path.stem}"


