"""What every Twilio webhook route shares: the blocks it answers with (TwilioWebhooks) and ``guarded()``, which makes
a route of a handler. Each route group (tasks/selfservice/routes.py, call_routes.py) builds its routes with it.

Every request is checked before anything is read from it (tasks/selfservice/guard.py); a refused one gets a bare
403 and nothing is recorded. An accepted one is handled in one transaction with its replay record, and answered
with TwiML built by the twilio library.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import parse_qsl

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
    arrived on), and the promise grace of the escalation policy."""
    phone: PhoneDesk
    company: CompanyProfile
    public_base_url: str | None = None
    promise_grace_days: int = 3

    @property
    def auth_token(self) -> str:
        return self.phone.twilio.auth_token.get_secret_value()

    @property
    def desk(self) -> SmsDesk:
        return SmsDesk(self.company.legal_name, self.phone.desk_contact, self.company.locale, self.promise_grace_days)

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
