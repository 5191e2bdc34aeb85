"""The controller's alert email: the notification block Prefect's automations call when an arpilot run fails, crashes,
times out or runs late (automations.yaml, installed by `arpilot alerts install`).

The Prefect server itself loads this block and calls ``notify``, so arpilot must be installed in the server's
environment: the package's ``prefect.collections`` entry point (pyproject.toml) makes the server import it. The
message leaves through the email channel block's relay and login, like every other arpilot email.
"""

from __future__ import annotations

import asyncio
import re
import smtplib
from email.message import EmailMessage
from email.utils import formataddr, formatdate, make_msgid

from prefect.blocks.abstract import NotificationBlock, NotificationError
from pydantic import Field, field_validator

from blocks.email_channel import EmailChannel, email_addresses
from blocks.runbook import RUNBOOK_README

_POINTER = re.compile(r"(?<![\w/.])README\.md#")


class AlertEmail(NotificationBlock):
    """Who is told about failed and late runs, through which email channel, and where the runbook is read."""

    _block_type_name = "arpilot alert email"
    _block_type_slug = "arpilot-alert-email"
    _description = "The controller's email for failed, crashed, timed-out and late arpilot runs."

    email_channel: EmailChannel = Field(..., description="The SMTP relay and sender the alerts leave through.")
    to: list[str] = Field(..., min_length=1, description="Addresses told about failed and late runs.")
    runbook_url: str = Field(RUNBOOK_README,
                             description="Where the README's runbook is read, e.g. the repository's README page or "
                                         "the company's docs copy; each alert's 'README.md#...' link points there.")

    @field_validator("to")
    @classmethod
    def _addresses(cls, v: list[str]) -> list[str]:
        return email_addresses(v, "to")

    def runbook_links(self, text: str) -> str:
        """Point every runbook pointer ('README.md#runbook-...') in ``text`` at runbook_url."""
        return _POINTER.sub(lambda _: f"{self.runbook_url.rstrip('#')}#", text)

    def compose(self, subject: str, body: str) -> EmailMessage:
        channel = self.email_channel
        mail = EmailMessage()
        mail["From"] = formataddr((channel.from_name or "arpilot", channel.from_address))
        mail["To"] = ", ".join(self.to)
        mail["Subject"] = " ".join(subject.split())
        mail["Date"] = formatdate(localtime=True)
        mail["Message-ID"] = make_msgid(domain=channel.from_address.rpartition("@")[2] or None)
        mail.set_content(self.runbook_links(body))
        return mail

    def _send(self, mail: EmailMessage) -> None:
        client = self.email_channel.connect()
        try:
            client.smtp.send_message(mail, self.email_channel.from_address, self.to)
        finally:
            client.close()

    async def notify(self, body: str, subject: str | None = None) -> None:
        """Email the alert; a relay that refuses it is reported to Prefect (the automation's action fails)."""
        mail = self.compose(subject or "arpilot alert", body)
        try:
            await asyncio.to_thread(self._send, mail)
        except (OSError, smtplib.SMTPException) as error:
            reason = f"alert email to {', '.join(self.to)} via {self.email_channel.describe()} not sent: {error}"
            if self._raise_on_failure:
                raise NotificationError(log=reason) from None
            raise RuntimeError(reason) from None
