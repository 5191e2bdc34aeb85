"""The webhooks' common ground: what they need (TwilioWebhooks) and the route wrapper that believes a request only
when Twilio signed it and it is new (guarded). Every route group (tasks/selfservice/routes.py for texts and status
callbacks, tasks/selfservice/ivr_routes.py for calls) is built on it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import parse_qsl, urlencode

from sqlalchemy.engine import Connection, Engine
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from blocks.company import CompanyProfile
from blocks.phone_desk import PhoneDesk
from tasks.selfservice.guard import (
    SIGNATURE_HEADER,
    RequestRefused,
    check_signature,
    public_url,
    remember,
    signed_request,
)
from tasks.selfservice.inbox import SmsDesk

log = logging.getLogger("arpilot.selfservice")
TWIML = "application/xml"


@dataclass(frozen=True)
class TwilioWebhooks:
    """What the webhooks need: the phone desk block (its Twilio account's auth token checks every signature), the
    company, the public base URL Twilio calls (the pay portal's, behind the TLS proxy; empty: the URL the request
    arrived on), the promise grace of the escalation policy, and the clock that decides collectors' and contacts'
    hours (the tests set it)."""
    phone: PhoneDesk
    company: CompanyProfile
    public_base_url: str | None = None
    promise_grace_days: int = 3
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))

    @property
    def auth_token(self) -> str:
        return self.phone.twilio.auth_token.get_secret_value()

    @property
    def desk(self) -> SmsDesk:
        return SmsDesk(self.company.legal_name, self.phone.desk_contact, self.company.locale, self.promise_grace_days,
                       answers_keywords=not self.phone.twilio_answers_keywords)

    def url(self, path: str, **query) -> str:
        """A URL of ours as Twilio will request and sign it: absolute under the public base URL when there is one
        (else relative, which Twilio resolves against the URL it just requested)."""
        return (self.public_base_url or "").rstrip("/") + path + (f"?{urlencode(query)}" if query else "")

    def __repr__(self) -> str:  # the token never reaches a log or an exception
        return f"TwilioWebhooks(public_base_url={self.public_base_url!r})"


Handler = Callable[[Connection, dict[str, str], dict[str, str]], str]


def guarded(hooks: TwilioWebhooks, engine: Engine, handle: Handler) -> Callable:
    """A webhook route: refused with a bare 403 unless Twilio signed it and it is new; else ``handle(conn, form,
    query)`` in one transaction with the request's replay record, its TwiML the answer. The query string is part of
    what is signed and of the replay digest, so the IVR's turn number in its URLs makes each turn's keys distinct."""
    async def route(request: Request) -> Response:
        # Twilio posts application/x-www-form-urlencoded; read as sent (repeated names kept, nothing dropped).
        pairs = parse_qsl((await request.body()).decode("utf-8", "replace"), keep_blank_values=True)
        query = request.url.query
        signed = signed_request(public_url(hooks.public_base_url, str(request.url), request.url.path, query), pairs)
        where = request.url.path + (f"?{query}" if query else "")

        def work() -> str:
            check_signature(hooks.auth_token, signed, request.headers.get(SIGNATURE_HEADER))
            with engine.begin() as conn:
                remember(conn, signed, where)
                return handle(conn, signed.form(), dict(parse_qsl(query)))

        try:
            twiml = await run_in_threadpool(work)
        except RequestRefused as why:
            log.warning("Twilio webhook %s refused: %s", request.url.path, why)
            return PlainTextResponse("Forbidden", status_code=403)
        return Response(twiml, media_type=TWIML)
    return route
