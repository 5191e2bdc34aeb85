"""The email channel: the SMTP relay reminders and reports leave through."""

from __future__ import annotations

import yagmail
from prefect.blocks.core import Block
from pydantic import Field, SecretStr, model_validator


def email_addresses(addresses: list[str], field: str = "") -> list[str]:
    """A block field's addresses, refused when one is plainly not an email address (names the field, if given)."""
    bad = [a for a in addresses if "@" not in a]
    if bad:
        raise ValueError(f"{field} {bad} are not email addresses".lstrip())
    return addresses


class EmailChannel(Block):
    """Any SMTP relay (Office 365, Gmail Workspace, SES, Postfix). Connections go through yagmail."""

    _block_type_name = "arpilot email channel"
    _block_type_slug = "arpilot-email-channel"
    _description = "SMTP relay, sender address and credentials for reminders and reports."

    host: str = Field(..., description="SMTP relay host name.")
    port: int = Field(587, description="587 with STARTTLS, 465 with implicit TLS, 25 for a local relay.")
    security: str = Field("starttls", pattern="^(starttls|tls|none)$",
                          description="starttls, tls (implicit, port 465) or none (a relay on this host only).")
    username: str | None = Field(None, description="Login name; leave empty for a relay that needs no login.")
    password: SecretStr | None = Field(None, description="Login password or app password.")
    from_address: str = Field(..., description="Sender address customers see and reply to.")
    from_name: str | None = Field(None, description="Display name; default: the company profile's sender name.")
    reply_to: str | None = Field(None, description="Where replies go, if not the sender address.")
    timeout_seconds: float = Field(30, gt=0, description="Network timeout per SMTP command.")
    messages_per_second: float | None = Field(None, gt=0, description="The relay's sending limit, across every "
                                                                     "run and worker (a Prefect global concurrency "
                                                                     "limit); empty: as fast as the relay takes them.")

    @model_validator(mode="after")
    def _login_complete(self) -> EmailChannel:
        # yagmail asks for a missing password on the terminal; a nightly run must fail clearly instead.
        if self.username and self.password is None:
            raise ValueError(f"username {self.username!r} is set but password is empty; set both or neither")
        return self

    def describe(self) -> str:
        login = f"{self.username}@" if self.username else ""
        return f"smtp://{login}{self.host}:{self.port} ({self.security})"

    def connect(self) -> yagmail.SMTP:
        """A logged-in connection, to be reused for a whole batch and closed by the caller."""
        # A one-entry dict keeps yagmail from appending "@gmail.com" to a login name without "@".
        login = self.username or ""
        client = yagmail.SMTP(
            user={login: login}, password=self.password.get_secret_value() if self.password else None,
            host=self.host, port=self.port, smtp_ssl=self.security == "tls",
            smtp_starttls=self.security == "starttls", smtp_skip_login=not self.username,
            soft_email_validation=False, timeout=self.timeout_seconds,
        )
        client.login()
        return client
