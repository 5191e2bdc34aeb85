"""A small world for the customer's-phone tests: the serve app with Twilio's webhooks over a seeded warehouse, and
requests signed the way Twilio signs them (the twilio library's own RequestValidator)."""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa
from dunning_cases import Ledger, seed
from pydantic import SecretStr
from starlette.testclient import TestClient
from twilio.request_validator import RequestValidator

from blocks.company import CompanyProfile
from blocks.dunning_policy import DunningPolicy
from blocks.pay_portal import PayPortal
from blocks.payment_gateway import PaymentGateway
from blocks.phone_desk import PhoneDesk
from blocks.twilio_channel import TwilioChannel
from tasks.portal.app import create_app
from tasks.selfservice.routes import TwilioWebhooks

TODAY = date(2026, 11, 23)
TOKEN = "twilio-auth-token-0123456789abcdef"
PUBLIC = "https://pay.northwind.example"
DESK = "ar@northwind.example or +1 312 555 0100"
DESK_NUMBER = "+13125550100"
ACCOUNT = "AC" + "7" * 32
COLLECTOR_LINES = {"Ann Lee": "+13125550111", "Bo Chen": "+13125550112"}
COMPANY = CompanyProfile(legal_name="Northwind Components Ltd", time_zone="America/Chicago")
PORTAL = PayPortal(base_url=PUBLIC, signing_key=SecretStr("portal-signing-key-0123456789abcdef-test"))
GATEWAY = PaymentGateway(secret_key=SecretStr("sk_test_unused"), publishable_key="pk_test_unused",
                         api_base="http://127.0.0.1:9")
ACME, BETA, SHARED, NOBODY = "+12125550000", "+12125550001", "+13125550199", "+14155550123"
TABLES = ("sms_inbound", "channel_opt_outs", "collector_worklist", "promises", "twilio_webhook_requests")


def seed_world(engine) -> None:
    """C1 Acme owes USD (one disputed) and EUR; C2 Beta owes USD only; C3 and C4 share one number."""
    ledger = (Ledger(TODAY).customer("C1", "Acme GmbH", collector="Ann Lee")
              .customer("C2", "Beta LLC", collector="Bo Chen")
              .customer("C3", "Gamma Inc", phone_e164=SHARED).customer("C4", "Delta Co", phone_e164=SHARED)
              .invoice("INV-1", "C1", 20, 125_000).invoice("INV-3", "C1", 40, 99_900, disputed=True)
              .invoice("INV-4", "C1", 3, 50_000, currency="EUR").invoice("INV-9", "C2", 10, 77_700)
              .invoice("INV-30", "C3", 5, 10_000).invoice("INV-40", "C4", 5, 20_000))
    seed(engine, ledger)


def serve(engine, public: str | None = PUBLIC, short_code: bool = False) -> TestClient:
    return TestClient(create_app(PORTAL, GATEWAY, COMPANY, engine, today=lambda: TODAY,
                                 twilio=webhooks(public, short_code=short_code)))


def webhooks(public: str | None = PUBLIC, twilio_api: str | None = None, short_code: bool = False) -> TwilioWebhooks:
    """The webhooks over the test phone desk; ``twilio_api``: the local Twilio-compatible server outbound
    texts and calls go to; ``short_code``: a number Twilio does not answer STOP, START and HELP for."""
    channel = TwilioChannel(account_sid=ACCOUNT, auth_token=SecretStr(TOKEN), from_number=DESK_NUMBER,
                            api_base_url=twilio_api or "http://127.0.0.1:9")
    policy = DunningPolicy(pay_portal=PORTAL, ar_phone=DESK_NUMBER, collector_phones=COLLECTOR_LINES)
    phone = PhoneDesk(twilio=channel, dunning_policy=policy, desk_contact=DESK, twilio_answers_keywords=not short_code)
    return TwilioWebhooks(phone=phone, company=COMPANY, public_base_url=public)


def sms_params(from_: str, body: str, sid: str = "SM" + "a" * 32) -> dict[str, str]:
    return {"MessageSid": sid, "SmsSid": sid, "AccountSid": "AC" + "1" * 32, "From": from_, "To": "+13125550100",
            "Body": body, "NumMedia": "0"}


def signature(path: str, params: dict, token: str = TOKEN, url: str | None = None) -> str:
    return RequestValidator(token).compute_signature(url or PUBLIC + path, params)


def post(http: TestClient, path: str, params: dict, sign: dict | None = None, token: str = TOKEN,
         url: str | None = None, header: str | None = "sign"):
    """POST ``params``, signed over ``sign`` (default: the same params) for ``url`` with ``token``."""
    headers = {}
    if header == "sign":
        headers["X-Twilio-Signature"] = signature(path, params if sign is None else sign, token, url)
    elif header is not None:
        headers["X-Twilio-Signature"] = header
    return http.post(path, data=params, headers=headers)


def counts(engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {t: conn.execute(sa.text(f"SELECT COUNT(*) FROM {t}")).scalar() for t in TABLES}


def rows(engine, sql: str, **params) -> list[tuple]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(sa.text(sql), params)]
