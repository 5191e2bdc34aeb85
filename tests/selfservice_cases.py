"""A small world for the customer's-phone tests: the serve app with Twilio's webhooks over a seeded warehouse, and
requests signed the way Twilio signs them (the twilio library's own RequestValidator)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import sqlalchemy as sa
from dunning_cases import Ledger, seed
from pydantic import SecretStr
from starlette.testclient import TestClient
from twilio.request_validator import RequestValidator

from blocks.company import CompanyProfile
from blocks.dunning_policy import DunningPolicy
from blocks.email_channel import EmailChannel
from blocks.pay_portal import PayPortal
from blocks.payment_gateway import PaymentGateway
from blocks.phone_desk import PhoneDesk
from blocks.twilio_channel import TwilioChannel
from tasks.portal.app import create_app
from tasks.selfservice.webhooks import TwilioWebhooks

TODAY = date(2026, 11, 23)  # a Monday
IN_HOURS = datetime(2026, 11, 23, 16, 0, tzinfo=UTC)  # 10:00 in Chicago (the company), 11:00 in New York
AFTER_HOURS = datetime(2026, 11, 24, 3, 0, tzinfo=UTC)  # 21:00 in Chicago, 22:00 in New York
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


def world() -> Ledger:
    """C1 Acme owes USD (one disputed) and EUR; C2 Beta owes USD only; C3 and C4 share one number."""
    return (Ledger(TODAY).customer("C1", "Acme GmbH", collector="Ann Lee")
            .customer("C2", "Beta LLC", collector="Bo Chen")
            .customer("C3", "Gamma Inc", phone_e164=SHARED).customer("C4", "Delta Co", phone_e164=SHARED)
            .invoice("INV-1", "C1", 20, 125_000).invoice("INV-3", "C1", 40, 99_900, disputed=True)
            .invoice("INV-4", "C1", 3, 50_000, currency="EUR").invoice("INV-9", "C2", 10, 77_700)
            .invoice("INV-30", "C3", 5, 10_000).invoice("INV-40", "C4", 5, 20_000))


def seed_world(engine) -> None:
    seed(engine, world())


DUPONT, LOPEZ, TANAKA, WOLSELEY = "+33612345678", "+34612345678", "+819012345678", "+447700900123"
COUNTRIES = {"C1": "DE", "C5": "FR", "C6": "ES", "C7": "JP", "C8": "GB"}


def seed_ivr_world(engine) -> None:
    """The SMS world (C1 Acme in Germany), and callers from France, Spain, Japan and Britain owing in EUR, JPY and
    GBP; Beta also has a USD invoice due in 14 days and a EUR one due the same day, and paid $300.00 on 2 Nov."""
    ledger = (world().customer("C5", "Chocolaterie Dupont", phone_e164=DUPONT, zone="Europe/Paris")
              .customer("C6", "Ferretería López", phone_e164=LOPEZ, zone="Europe/Madrid")
              .customer("C7", "Tanaka KK", phone_e164=TANAKA, zone="Asia/Tokyo")
              .customer("C8", "Wolseley Ltd", phone_e164=WOLSELEY, zone="Europe/London")
              .invoice("INV-10", "C2", -14, 12_345).invoice("INV-11", "C2", -14, 60_001, currency="EUR")
              .invoice("INV-50", "C5", 8, 123_450, currency="EUR").invoice("INV-60", "C6", 8, 100, currency="EUR")
              .invoice("INV-70", "C7", 8, 50_000_000, currency="JPY")
              .invoice("INV-80", "C8", 8, 123_456, currency="GBP"))
    seed(engine, ledger)
    with engine.begin() as conn:
        for customer, country in COUNTRIES.items():
            conn.execute(sa.text("UPDATE customers SET country = :k WHERE customer_id = :c"),
                         {"k": country, "c": customer})
        conn.execute(sa.text("INSERT INTO payments (payment_id, customer_id, received_on, currency, amount_cents, "
                             "method, row_hash, synced_at) VALUES ('P-1', 'C2', :d, 'USD', 30000, 'wire', 1, :t), "
                             "('P-0', 'C2', :e, 'USD', 10000, 'wire', 2, :t)"),
                     {"d": date(2026, 11, 2), "e": date(2026, 10, 1), "t": "2026-11-23 02:00:00"})


def serve(engine, public: str | None = PUBLIC, hooks: TwilioWebhooks | None = None,
          short_code: bool = False) -> TestClient:
    return TestClient(create_app(PORTAL, GATEWAY, COMPANY, engine, today=lambda: TODAY,
                                 twilio=hooks or webhooks(public, short_code=short_code)))


def webhooks(public: str | None = PUBLIC, twilio_api: str | None = None, now: datetime = IN_HOURS,
             email: EmailChannel | None = None, ar_phone: str = DESK_NUMBER,
             short_code: bool = False) -> TwilioWebhooks:
    """The webhooks over the test phone desk; ``twilio_api``: the local Twilio-compatible server outbound
    texts and calls go to; ``now``: the clock collectors' and contacts' hours are judged by; ``short_code``: a
    number Twilio does not answer STOP, START and HELP for."""
    channel = TwilioChannel(account_sid=ACCOUNT, auth_token=SecretStr(TOKEN), from_number=DESK_NUMBER,
                            api_base_url=twilio_api or "http://127.0.0.1:9")
    policy = DunningPolicy(pay_portal=PORTAL, ar_phone=ar_phone, collector_phones=COLLECTOR_LINES)
    phone = PhoneDesk(twilio=channel, dunning_policy=policy, desk_contact=DESK, email=email,
                      twilio_answers_keywords=not short_code)
    return TwilioWebhooks(phone=phone, company=COMPANY, public_base_url=public, clock=lambda: now)


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
