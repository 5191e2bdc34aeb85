"""Talking to the providers: SMTP through yagmail, SMS and voice through the twilio client.

Each sender sorts a provider error into transient (retried with backoff: connection drops, SMTP 4xx, HTTP 429
and 5xx) or permanent (recorded with the provider's reason and never retried: SMTP 5xx, Twilio 4xx). A
connection lost after an email was handed over is neither: the relay may have it, so it is recorded as unknown
and not retried. Twilio's 21610 means the recipient replied STOP: the number is recorded as opted out.
Credentials a provider refuses stop the whole batch, since every further message would fail the same way.
"""

from __future__ import annotations

import contextlib
import re
import smtplib
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.policy import SMTP, SMTPUTF8

import requests
from twilio.base.exceptions import TwilioRestException

from blocks.email_channel import EmailChannel
from blocks.rate_limits import throttle
from blocks.twilio_channel import TwilioChannel

TWILIO_UNSUBSCRIBED = 21610

# On the wire. Python folds a header whose value would fit on a line of its own by starting it on the next line,
# and readers then show the subject with a leading space; a line may hold 998 characters (RFC 5322), so headers
# are not folded below that.
WIRE, WIRE_UTF8 = SMTP.clone(max_line_length=998), SMTPUTF8.clone(max_line_length=998)


class ProviderRefusedCredentials(RuntimeError):
    """The provider refused our login: nothing in this batch can be sent until the block is fixed."""


class RelayUnreachable(RuntimeError):
    """The SMTP relay could not be reached after retries: nothing in this batch was sent."""


class TransientError(Exception):
    pass


class HandedOver(Exception):
    """The provider may have the message but never said so: sending again could send twice."""


class PermanentError(Exception):
    def __init__(self, reason: str, opted_out: bool = False):
        super().__init__(reason)
        self.reason = reason
        self.opted_out = opted_out


@dataclass
class Delivery:
    status: str  # sent | failed (permanent) | owed (refused for now: sent next run) | unknown (handed over, no answer)
    attempts: int
    provider_id: str | None = None
    reason: str | None = None
    opted_out: bool = False


def deliver(send: Callable[[], str], attempts: int, backoff: list[float],
            sleep: Callable[[float], None] = time.sleep, refused: Callable[[], None] = lambda: None) -> Delivery:
    """Call ``send`` until it returns a provider id, retrying transient errors ``attempts`` times in all.

    ``refused`` runs after each transient error, before any sleep: the provider has nothing, and the outbox must
    say so while we wait. Transient errors to the last attempt leave the message ``owed``: still owed, not
    done; only a permanent error ends it.
    """
    for attempt in range(1, attempts + 1):
        try:
            return Delivery("sent", attempt, send())
        except PermanentError as e:
            return Delivery("failed", attempt, reason=e.reason, opted_out=e.opted_out)
        except HandedOver as e:
            return Delivery("unknown", attempt, reason=f"{e}; counted as sent, not retried")
        except TransientError as e:
            refused()
            if attempt == attempts:
                return Delivery("owed", attempt, reason=f"gave up after {attempts} tries: {e}")
            sleep(backoff[min(attempt - 1, len(backoff) - 1)] if backoff else 0)
    raise AssertionError("unreachable")


class EmailSender:
    """One SMTP connection per batch, reopened after a drop."""

    def __init__(self, channel: EmailChannel, block_name: str):
        self.channel = channel
        self.block_name = block_name
        self._client = None

    def _smtp(self) -> smtplib.SMTP:
        if self._client is None:
            try:
                self._client = self.channel.connect()
            except smtplib.SMTPAuthenticationError as e:
                raise ProviderRefusedCredentials(
                    f"SMTP relay {self.channel.describe()} refused the login ({e.smtp_code}); check username and "
                    f"password in block {self.block_name}") from None
            except (OSError, smtplib.SMTPException) as e:
                raise TransientError(f"cannot reach SMTP relay {self.channel.describe()}: {e}") from None
            # DATA is written in two parts (see send); without this, Nagle's algorithm holds the final "." until
            # the relay acknowledges the body, about 40 ms per message.
            self._client.smtp.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return self._client.smtp

    def ready(self, attempts: int, backoff: list[float]) -> None:
        """Connect and log in now, retrying a relay that is briefly away, or raise."""
        connected = deliver(lambda: bool(self._smtp()) and "connected", attempts, backoff)
        if connected.status != "sent":
            raise RelayUnreachable(f"{connected.reason}; the batch's messages go out on the next run")

    def send(self, mail: EmailMessage, sender: str, recipients: list[str], committing: Callable[[], None]) -> str:
        """Deliver one message on the batch's connection; ``committing`` runs just before the final "." of DATA.

        Until that dot the relay discards the message if we die, so a message recorded as "sending" by
        ``committing`` is one the relay got, bar a process killed between that commit and writing three bytes:
        a run that dies can tell "never sent" (still reserved) from "handed over" (sending).
        """
        throttle(self.block_name, self.channel.messages_per_second)
        try:
            refused = self._transact(self._smtp(), mail, sender, recipients, committing)
        except smtplib.SMTPNotSupportedError as e:
            raise PermanentError(f"the relay cannot deliver to this address: {e}") from None
        except smtplib.SMTPRecipientsRefused as e:
            codes = [code for code, _ in e.recipients.values()]
            text = "; ".join(f"{code} {msg.decode(errors='replace')}" for code, msg in e.recipients.values())
            if all(400 <= c < 500 for c in codes):
                raise TransientError(f"recipients deferred: {text}") from None
            raise PermanentError(f"recipients refused: {text}") from None
        except smtplib.SMTPResponseException as e:
            said = e.smtp_error.decode(errors="replace") if isinstance(e.smtp_error, bytes) else e.smtp_error
            text = f"{e.smtp_code} {said}"
            if 400 <= e.smtp_code < 500:
                self._drop()  # no QUIT round trip: the refusal must reach the outbox before anything else
                raise TransientError(text) from None
            raise PermanentError(f"relay refused the message: {text}") from None
        except (smtplib.SMTPServerDisconnected, OSError) as e:
            self.close()
            raise TransientError(f"connection lost: {e}") from None
        return "accepted" if not refused else f"accepted; refused {len(refused)} of {len(recipients)} recipients"

    @staticmethod
    def _transact(smtp: smtplib.SMTP, mail: EmailMessage, sender: str, recipients: list[str],
                  committing: Callable[[], None]) -> dict:
        """smtplib's sendmail, with a pause before the end of DATA (smtplib.SMTP.data does the same in one go)."""
        international = not all(a.isascii() for a in (sender, *recipients))
        smtp.ehlo_or_helo_if_needed()
        if international and not smtp.has_extn("smtputf8"):
            raise smtplib.SMTPNotSupportedError("the relay does not accept international addresses (SMTPUTF8)")
        options = ["SMTPUTF8", "BODY=8BITMIME"] if international else []
        code, reply = smtp.mail(sender, options)
        if code != 250:
            smtp.rset()
            raise smtplib.SMTPSenderRefused(code, reply, sender)
        refused = {}
        for address in recipients:
            code, reply = smtp.rcpt(address)
            if code not in (250, 251):
                refused[address] = (code, reply)
        if len(refused) == len(recipients):
            smtp.rset()
            raise smtplib.SMTPRecipientsRefused(refused)
        smtp.putcmd("data")
        code, reply = smtp.getreply()
        if code != 354:
            raise smtplib.SMTPDataError(code, reply)
        body = re.sub(rb"(?m)^\.", b"..", mail.as_bytes(policy=WIRE_UTF8 if international else WIRE))
        smtp.send(body if body.endswith(b"\r\n") else body + b"\r\n")
        committing()
        try:
            smtp.send(b".\r\n")
            code, reply = smtp.getreply()
        except (smtplib.SMTPServerDisconnected, OSError) as e:
            raise HandedOver(f"the connection dropped after the message was handed over ({e})") from None
        if code != 250:
            raise smtplib.SMTPDataError(code, reply)
        return refused

    def _drop(self) -> None:
        """Close the connection at once, without a goodbye; the next send opens a fresh one."""
        if self._client is not None:
            with contextlib.suppress(OSError):
                self._client.smtp.close()
            self._client = None

    def close(self) -> None:
        if self._client is not None:
            with contextlib.suppress(smtplib.SMTPException, OSError):
                self._client.smtp.quit()
            self._client = None


AMBIGUOUS = "ambiguous"  # Twilio has something to the number since, but nothing says it is ours


def identify(ours: list[tuple[str, str | None]], listed: list[tuple[str, str | None]],
             claimed: set[str]) -> dict[str, str | None]:
    """Which of Twilio's messages or calls to one number (sid, body; oldest first) is which of ours (outbox key,
    text): its sid, None when Twilio has nothing of ours (safe to send again), or AMBIGUOUS.

    Twilio returns no StatusCallback or other field we set, so an SMS is known by its body (Twilio may append an
    opt-out footer, hence a prefix match) and a call, whose TwiML is not returned, only by being there. ``claimed``
    (sids other outbox rows already hold) are another message's, never ours: so with two customers sharing a
    number, or one customer texted in two currencies, a lost message is not confirmed with the other's sid. What
    is left unmatched but cannot be ruled out is AMBIGUOUS: neither confirmed nor sent again.
    """
    free = [(sid, body) for sid, body in listed if sid not in claimed]
    found: dict[str, str | None] = {}
    for key, text in ours:
        sid = next((sid for sid, body in free if text and body and body.startswith(text)), None)
        if sid:
            found[key] = sid
            free = [f for f in free if f[0] != sid]
    rest = [key for key, text in ours if key not in found]
    calls = all(text is None for key, text in ours if key in rest)
    if not free:
        found |= dict.fromkeys(rest, None)
    elif calls and len(free) >= len(rest):
        found |= dict(zip(rest, (sid for sid, _ in free), strict=False))
    else:
        found |= dict.fromkeys(rest, AMBIGUOUS)
    return found


class TwilioSender:
    def __init__(self, channel: TwilioChannel, block_name: str):
        self.channel = channel
        self.block_name = block_name
        self.client = channel.client()

    def _call(self, create: Callable[[], object], channel: str, to: str, text: str | None) -> str:
        started = datetime.now(UTC)
        try:
            return create().sid
        except TwilioRestException as e:
            if e.status in (401, 403):
                raise ProviderRefusedCredentials(
                    f"Twilio refused the credentials ({e.status}, code {e.code}); check account_sid and auth_token "
                    f"in block {self.block_name}") from None
            if e.status == 429 or e.status >= 500:
                raise TransientError(f"Twilio {e.status} (code {e.code})") from None
            raise PermanentError(f"Twilio {e.code}: {e.msg}", opted_out=e.code == TWILIO_UNSUBSCRIBED) from None
        except requests.ConnectTimeout:
            raise TransientError("cannot reach Twilio: ConnectTimeout") from None
        except requests.RequestException as e:
            # The request may have reached Twilio (a read timeout, a dropped connection): ask before trying again.
            error = type(e).__name__
        try:
            sid = identify([("ours", text)], self.listed(channel, to, started), set())["ours"]
        except (TwilioRestException, requests.RequestException):
            raise HandedOver(f"Twilio did not answer ({error}) and cannot be asked whether it has it") from None
        if sid is None:
            raise TransientError(f"cannot reach Twilio: {error}")
        if sid == AMBIGUOUS or text is None:  # a call is known only by being there, as another call could be
            raise HandedOver(f"Twilio did not answer ({error}) and has a {channel} to this number that may be ours")
        return sid

    def sms(self, to: str, body: str, outbox_key: str | None = None) -> str:
        sent_by, reports = self.channel.sender(), self.channel.delivery_reports(outbox_key)
        return self._call(lambda: self.client.messages.create(to=to, body=body, **sent_by, **reports), "sms", to, body)

    def voice(self, to: str, twiml: str, outbox_key: str | None = None) -> str:
        return self._call(lambda: self.client.calls.create(to=to, from_=self.channel.from_number, twiml=twiml,
                                                           **self.channel.delivery_reports(outbox_key)),
                          "voice", to, None)

    def listed(self, channel: str, to: str, since: datetime) -> list[tuple[str, str | None]]:
        """Twilio's messages (sid, body) or calls (sid, None) to ``to`` created since ``since``, oldest first: how
        a run that died during the call learns whether it went out. Filtered by creation time here, not by
        Twilio's DateSent, which a message still queued at Twilio does not have yet."""
        since = since - timedelta(minutes=5)  # our clock and Twilio's may differ a little
        resource = self.client.messages if channel == "sms" else self.client.calls
        found = [r for r in resource.list(to=to, limit=50) if r.date_created and r.date_created >= since]
        return [(r.sid, r.body if channel == "sms" else None) for r in reversed(found)]
