"""Twilio's webhooks as route groups of the `arpilot serve` app: /twilio/sms (a customer's text), /twilio/status
(delivery status callbacks), /twilio/voice... (the IVR menu, tasks/selfservice/ivr_routes.py), /twilio/call/...
(collectors' calls, tasks/selfservice/call_routes.py).

Every request is checked before anything is read from it (tasks/selfservice/guard.py, through
tasks/selfservice/webhooks.guarded); a refused one gets a bare 403 and nothing is recorded. An accepted one is
handled in one transaction with its replay record, and answered with TwiML built by the twilio library.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from sqlalchemy.engine import Connection, Engine
from starlette.routing import Route
from twilio.twiml.messaging_response import MessagingResponse

from tasks.selfservice.call_routes import call_routes
from tasks.selfservice.inbox import answer_text
from tasks.selfservice.ivr_routes import ivr_routes
from tasks.selfservice.status import record_status
from tasks.selfservice.webhooks import TwilioWebhooks, guarded, log


def twilio_routes(hooks: TwilioWebhooks, engine: Engine, today: Callable[[], date]) -> list[Route]:
    def sms(conn: Connection, form: dict[str, str], query: dict[str, str]) -> str:
        reply = answer_text(conn, form, hooks.desk, today())
        answer = MessagingResponse()
        if reply:
            answer.message(reply)
        return str(answer)

    def status(conn: Connection, form: dict[str, str], query: dict[str, str]) -> str:
        log.info("Twilio status callback: %s", record_status(conn, form, query))
        return str(MessagingResponse())

    return [Route("/twilio/sms", guarded(hooks, engine, sms), methods=["POST"]),
            Route("/twilio/status", guarded(hooks, engine, status), methods=["POST"]),
            *ivr_routes(hooks, engine, today),
            *call_routes(hooks, engine)]
