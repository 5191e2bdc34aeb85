"""The SMS and voice channel: Twilio, or a Twilio-compatible server named by ``api_base_url``."""

from __future__ import annotations

from urllib.parse import urlencode, urlsplit, urlunsplit

from prefect.blocks.core import Block
from pydantic import Field, SecretStr, model_validator
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from blocks.rate_limits import throttle

TWILIO_API = "https://api.twilio.com"


class _TwilioHttp(TwilioHttpClient):
    """Twilio's HTTP client, taking a slot of the channel's rate limit before each request (blocks/rate_limits.py)
    and, for a test server, sending to its host (the twilio library has no base-URL option)."""

    def __init__(self, timeout: float, block_name: str, per_second: float | None, base_url: str | None = None):
        super().__init__(timeout=timeout)
        self._block_name, self._per_second = block_name, per_second
        self._base = urlsplit(base_url) if base_url else None

    def request(self, method, url, *args, **kwargs):
        throttle(self._block_name, self._per_second)
        parts = urlsplit(url)
        if self._base and f"{parts.scheme}://{parts.netloc}" == TWILIO_API:
            url = urlunsplit((self._base.scheme, self._base.netloc, self._base.path.rstrip("/") + parts.path,
                              parts.query, parts.fragment))
        return super().request(method, url, *args, **kwargs)


class TwilioChannel(Block):
    _block_type_name = "arpilot twilio channel"
    _block_type_slug = "arpilot-twilio-channel"
    _description = "Twilio account and sender for SMS and voice reminders."

    account_sid: str = Field(..., description="Account SID (AC...).")
    auth_token: SecretStr = Field(..., description="Auth token, or an API key secret.")
    from_number: str | None = Field(None, description="Sender number in E.164 (+15551234567).")
    messaging_service_sid: str | None = Field(None, description="Messaging service (MG...) for SMS instead of "
                                                                "from_number; calls still need from_number.")
    voice: str = Field("Polly.Joanna", description="Text-to-speech voice for voice reminders.")
    voice_language: str = Field("en-US", description="Language of voice reminders.")
    status_callback_url: str | None = Field(None, description="Where Twilio reports what the carrier did with each "
                                                              "text and call: `arpilot serve`'s /twilio/status "
                                                              "(e.g. https://pay.northwind.example/twilio/status); "
                                                              "empty: no delivery status.")
    api_base_url: str | None = Field(None, description="Only for a Twilio-compatible test server; empty for "
                                                       "Twilio itself.")
    timeout_seconds: float = Field(30, gt=0, description="HTTP timeout per request.")
    requests_per_second: float | None = Field(None, gt=0, description="Requests to Twilio per second (texts, calls, "
                                                                     "look-ups), across every run and worker (a "
                                                                     "Prefect global concurrency limit); empty: no "
                                                                     "limit.")

    @model_validator(mode="after")
    def _sender_given(self) -> TwilioChannel:
        if not (self.from_number or self.messaging_service_sid):
            raise ValueError("set from_number or messaging_service_sid: Twilio needs a sender")
        return self

    def describe(self) -> str:
        return f"twilio {self.account_sid[:6]}… via {self.api_base_url or TWILIO_API}"

    def sender(self) -> dict[str, str]:
        """Who a text is sent from, as the twilio client takes it: the messaging service, else the number."""
        if self.messaging_service_sid:
            return {"messaging_service_sid": self.messaging_service_sid}
        return {"from_": self.from_number}

    def delivery_reports(self, outbox_key: str | None = None) -> dict[str, str]:
        """What asks Twilio to report a text's or call's delivery: it does so only to a URL given with each one.

        outbox_key: the outbox row the report is for, in the URL, so a report that comes before the send has
        recorded Twilio's sid still finds its row."""
        if not self.status_callback_url:
            return {}
        if outbox_key is None:
            return {"status_callback": self.status_callback_url}
        joint = "&" if "?" in self.status_callback_url else "?"
        return {"status_callback": f"{self.status_callback_url}{joint}{urlencode({'outbox': outbox_key})}"}

    def client(self) -> Client:
        http = _TwilioHttp(self.timeout_seconds, f"arpilot-twilio-channel/{self._block_document_name or 'unsaved'}",
                           self.requests_per_second, self.api_base_url)
        return Client(self.account_sid, self.auth_token.get_secret_value(), http_client=http)
