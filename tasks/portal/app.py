"""`arpilot serve`: the pay portal, the gateway's webhooks and, when configured, Twilio's (the customer's phone,
tasks/selfservice/) as one ASGI app (Starlette, under uvicorn).

Thin on purpose: each route checks the link, then calls the stage's functions (links, account, checkout, webhooks,
pages). Every refused link gets the same page and status, whatever the reason.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import date

import stripe
from sqlalchemy.engine import Engine
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from blocks.company import CompanyProfile
from blocks.pay_portal import PayPortal
from blocks.payment_gateway import PaymentGateway
from tasks.portal import checkout
from tasks.portal.account import Account, PaymentRefused, autopay_cap_cents, customer_locale
from tasks.portal.links import LinkRefused, unseal
from tasks.portal.pages import REFUSED, portal_page, refused_page, statement_pdf
from tasks.portal.webhooks import WebhookRefused, handle_event, verified_event
from tasks.selfservice.routes import twilio_routes
from tasks.selfservice.webhooks import TwilioWebhooks

log = logging.getLogger("arpilot.portal")
SECURITY_HEADERS = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer", "X-Frame-Options": "DENY",
                    "X-Content-Type-Options": "nosniff"}


def create_app(portal: PayPortal, gateway: PaymentGateway, company: CompanyProfile, engine: Engine,
               today: Callable[[], date] | None = None, twilio: TwilioWebhooks | None = None) -> Starlette:
    """The portal over these blocks; ``today`` (default: the company's calendar) decides expiry and payment days;
    with ``twilio``, Twilio's webhooks too (/twilio/...)."""
    day = today or company.today
    client = gateway.client()
    key = portal.signing_key.get_secret_value()

    def refused() -> HTMLResponse:
        return HTMLResponse(refused_page(company.legal_name), status_code=404, headers=SECURITY_HEADERS)

    def account_for(request: Request) -> Account | None:
        try:
            link = unseal(request.path_params["token"], key, day())
        except LinkRefused as why:
            log.info("Pay link refused: %s", why)
            return None
        return checkout.account_of(engine, link.customer_id)

    async def page(request: Request) -> Response:
        account = await run_in_threadpool(account_for, request)
        if account is None:
            return refused()
        locale = customer_locale(request.headers.get("accept-language"), company.locale)

        def render() -> str:
            with engine.connect() as conn:
                caps = {c: autopay_cap_cents(conn, account.customer_id, c, day(), portal.autopay_cap_multiple)
                        for c in account.currencies}
            return portal_page(company, account, locale, day(), caps, gateway.publishable_key, gateway.js_url(),
                               request.path_params["token"])

        return HTMLResponse(await run_in_threadpool(render), headers=SECURITY_HEADERS)

    async def statement(request: Request) -> Response:
        account = await run_in_threadpool(account_for, request)
        if account is None:
            return refused()
        locale = customer_locale(request.headers.get("accept-language"), company.locale)
        pdf = await run_in_threadpool(statement_pdf, company, account, locale, day())
        return Response(pdf, media_type="application/pdf", headers=SECURITY_HEADERS | {
            "Content-Disposition": f'inline; filename="statement-{day().isoformat()}.pdf"'})

    def json_route(action: Callable[[Account, dict], dict]) -> Callable:
        """A page's JSON call: the link checked first, then ``action``; refusals say what the customer can do."""
        async def route(request: Request) -> Response:
            account = await run_in_threadpool(account_for, request)
            if account is None:
                return JSONResponse({"error": REFUSED},
                                    status_code=404, headers=SECURITY_HEADERS)
            try:
                body = await request.json()
                answer = await run_in_threadpool(action, account, body if isinstance(body, dict) else {})
            except (PaymentRefused, ValueError, KeyError, TypeError) as why:
                message = str(why) if isinstance(why, PaymentRefused) else "The request was not understood."
                return JSONResponse({"error": message}, status_code=400, headers=SECURITY_HEADERS)
            except (checkout.IntentNotTheirs, stripe.InvalidRequestError):  # an id that is not this customer's
                return JSONResponse({"error": "Not found."}, status_code=404, headers=SECURITY_HEADERS)
            except stripe.StripeError as error:
                log.warning("Stripe did not answer the portal: %s", type(error).__name__)
                return JSONResponse({"error": "Our payment provider did not answer. Please try again in a minute: "
                                              "you will not be charged twice."}, status_code=502,
                                    headers=SECURITY_HEADERS)
            return JSONResponse(answer, headers=SECURITY_HEADERS)
        return route

    def setup(account: Account, body: dict) -> dict:
        purpose = body.get("purpose")
        if purpose not in ("pay", "autopay"):
            raise PaymentRefused("Choose to pay now or automatically.")
        numbers = [str(n) for n in body.get("invoices") or []]
        return {"client_secret": checkout.start_setup(client, engine, account, str(body["currency"]), purpose,
                                                      numbers, str(body.get("method") or "card"))}

    def pay(account: Account, body: dict) -> dict:
        return checkout.pay_with_setup(client, engine, account, str(body["setup_intent"]), day())

    def check(account: Account, body: dict) -> dict:
        return checkout.check_intent(client, engine, account.customer_id, str(body["intent"]), day())

    def autopay(account: Account, body: dict) -> dict:
        return checkout.enrol(client, engine, account.customer_id, str(body["setup_intent"]), day(),
                              portal.autopay_cap_multiple)

    async def webhook(request: Request) -> Response:
        payload = await request.body()
        secret = gateway.webhook_secret.get_secret_value() if gateway.webhook_secret else None
        try:
            event = verified_event(payload, request.headers.get("stripe-signature"), secret)
        except WebhookRefused as why:
            log.warning("Stripe webhook refused: %s", why)
            return JSONResponse({"error": "signature refused"}, status_code=400)
        outcome = await run_in_threadpool(handle_event, event, engine, day())
        return JSONResponse({"received": event.id, "outcome": outcome})

    return Starlette(routes=[
        Route("/p/{token}", page, methods=["GET"]),
        Route("/p/{token}/statement.pdf", statement, methods=["GET"]),
        Route("/p/{token}/setup", json_route(setup), methods=["POST"]),
        Route("/p/{token}/pay", json_route(pay), methods=["POST"]),
        Route("/p/{token}/check", json_route(check), methods=["POST"]),
        Route("/p/{token}/autopay", json_route(autopay), methods=["POST"]),
        Route("/stripe/webhook", webhook, methods=["POST"]),
        *(twilio_routes(twilio, engine, day) if twilio else []),
    ])
