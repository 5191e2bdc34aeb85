"""The portal app against a real warehouse and the Stripe sandbox with the real client: the page, paying, autopay
enrolment, refused links, and webhooks that are believed only when signed, and recorded once."""

from __future__ import annotations

import hashlib
import hmac
import json
import time

import pytest
import sqlalchemy as sa
import stripe
from portal_cases import COMPANY, KEY, PORTAL, TODAY, gateway, seed_customers
from starlette.testclient import TestClient

from sandbox.stripe_api import SANDBOX_WEBHOOK_SECRET, SUCCEEDING_IBAN, StripeTestServer
from tasks.portal.app import create_app
from tasks.portal.links import PayLink, pay_link, seal


@pytest.fixture
def stripe_server():
    with StripeTestServer() as running:
        yield running


@pytest.fixture
def portal(warehouse, stripe_server):
    seed_customers(warehouse)
    block = gateway(stripe_server)
    app = create_app(PORTAL, block, COMPANY, warehouse, today=lambda: TODAY)
    with TestClient(app) as http:
        yield http, block.client()


def path(customer: str = "C1", day=TODAY) -> str:
    return pay_link(PORTAL, customer, "USD", day).removeprefix(PORTAL.base_url)


def rows(engine, sql: str) -> list[tuple]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(sa.text(sql))]


def card(client, number="4242424242424242"):
    return client.v1.payment_methods.create(params={"type": "card", "card": {
        "number": number, "exp_month": 12, "exp_year": 2030, "cvc": "123"}})


def sepa(client, iban=SUCCEEDING_IBAN):
    return client.v1.payment_methods.create(params={"type": "sepa_debit", "sepa_debit": {"iban": iban},
                                                    "billing_details": {"name": "Acme GmbH"}})


def confirm_as_stripe_js(client, http, link: str, body: dict, number="4242424242424242", method=None) -> str:
    """What the page does: ask for a SetupIntent, confirm it with the card at Stripe (here with the secret key)."""
    answer = http.post(f"{link}/setup", json=body)
    assert answer.status_code == 200, answer.text
    setup_id = answer.json()["client_secret"].split("_secret_")[0]
    client.v1.setup_intents.confirm(setup_id, params={"payment_method": (method or card(client, number)).id})
    return setup_id


def test_the_page_shows_the_customers_open_invoices_per_currency_in_their_locale(portal):
    http, _ = portal
    page = http.get(path(), headers={"Accept-Language": "de-DE,de;q=0.9"})
    assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
    for text in ("Northwind Components Ltd", "Acme GmbH", "INV-1", "INV-2", "INV-3", "INV-4", "1.250,00\xa0$",
                 "500,00\xa0€", "20 days overdue", "due in 5 days", "disputed", "statement.pdf", "#1f4e79",
                 'name="viewport"', "pk_test_arpilot_sandbox", "/js.stripe.com/v3/"):
        assert text in page.text, text
    assert "INV-9" not in page.text and "Beta LLC" not in page.text
    pdf = http.get(f"{path()}/statement.pdf")
    assert pdf.headers["content-type"] == "application/pdf" and pdf.content.startswith(b"%PDF")


def test_paying_chosen_invoices_records_one_payment_and_closes_them(portal, warehouse):
    http, client = portal
    setup_id = confirm_as_stripe_js(client, http, path(), {"purpose": "pay", "currency": "USD",
                                                           "invoices": ["INV-1", "INV-2"]})
    paid = http.post(f"{path()}/pay", json={"setup_intent": setup_id})
    assert paid.json()["status"] == "succeeded"
    again = http.post(f"{path()}/pay", json={"setup_intent": setup_id})  # a double click: the same intent
    assert again.json()["intent"] == paid.json()["intent"]
    intent = client.v1.payment_intents.retrieve(paid.json()["intent"])
    assert (intent.amount, intent.currency, intent.metadata["arpilot_customer"]) == (155_050, "usd", "C1")
    assert rows(warehouse, "SELECT source, customer_id, amount_cents, last4 FROM gateway_payments") == [
        ("portal", "C1", 155_050, "4242")]
    assert rows(warehouse, "SELECT invoice_number, open_cents, status FROM invoices WHERE invoice_number IN "
                           "('INV-1', 'INV-2') ORDER BY 1") == [("INV-1", 0, "paid"), ("INV-2", 0, "paid")]
    assert len(rows(warehouse, "SELECT * FROM allocations")) == 2
    check = http.post(f"{path()}/check", json={"intent": intent.id})  # the page asking again: nothing new
    assert check.json()["status"] == "succeeded" and len(rows(warehouse, "SELECT * FROM payments")) == 1


@pytest.mark.parametrize(("invoices", "currency", "why"), [
    (["INV-9"], "USD", "not open on this account"), (["INV-3"], "USD", "disputed"), ([], "USD", "at least one"),
    (["INV-4"], "USD", "not open on this account"), (["INV-1", "INV-1"], "USD", "twice")])
def test_what_cannot_be_paid_is_refused_before_any_card_is_asked_for(portal, invoices, currency, why):
    http, client = portal
    answer = http.post(f"{path()}/setup", json={"purpose": "pay", "currency": currency, "invoices": invoices})
    assert answer.status_code == 400 and why in answer.json()["error"]
    assert client.v1.customers.list().data == []


def test_another_customers_intent_is_not_found_and_nothing_is_recorded(portal, warehouse):
    http, client = portal
    setup_id = confirm_as_stripe_js(client, http, path("C2"), {"purpose": "pay", "currency": "USD",
                                                               "invoices": ["INV-9"]})
    assert http.post(f"{path('C1')}/pay", json={"setup_intent": setup_id}).status_code == 404
    assert rows(warehouse, "SELECT * FROM gateway_payments") == []


@pytest.mark.parametrize(("route", "body"), [("pay", {"setup_intent": "seti_forged"}), ("check", {"intent": "pi_forged"}),
                                             ("autopay", {"setup_intent": "seti_forged"}), ("pay", {}),
                                             ("setup", {"purpose": "pay"}), ("pay", ["not", "a", "dict"])])
def test_made_up_ids_and_malformed_requests_are_refused_plainly(portal, warehouse, route, body):
    http, _ = portal
    answer = http.post(f"{path()}/{route}", json=body)
    assert answer.status_code in (400, 404) and set(answer.json()) == {"error"}
    assert rows(warehouse, "SELECT * FROM gateway_payments") == []


def test_a_gateway_that_does_not_answer_is_said_plainly(portal, stripe_server):
    http, _ = portal
    stripe_server.fail_next(1, 503)
    answer = http.post(f"{path()}/setup", json={"purpose": "pay", "currency": "USD", "invoices": ["INV-1"]})
    assert answer.status_code == 502 and "will not be charged twice" in answer.json()["error"]


def test_a_declined_card_charges_nothing(portal, warehouse):
    http, client = portal
    setup_id = confirm_as_stripe_js(client, http, path(), {"purpose": "pay", "currency": "USD",
                                                           "invoices": ["INV-1"]}, number="4000000000000341")
    answer = http.post(f"{path()}/pay", json={"setup_intent": setup_id})
    assert answer.status_code == 400 and "declined" in answer.json()["error"]
    assert rows(warehouse, "SELECT * FROM gateway_payments") == []


def test_autopay_enrolment_becomes_a_mandate_with_the_cap(portal, warehouse):
    http, client = portal
    setup_id = confirm_as_stripe_js(client, http, path(), {"purpose": "autopay", "currency": "USD"})
    answer = http.post(f"{path()}/autopay", json={"setup_intent": setup_id}).json()
    assert answer == {"status": "enrolled", "currency": "USD", "method": "card", "last4": "4242",
                      "max_charge_cents": 2 * 254_950}
    [(source, method_type, last4, cap, status, gateway_customer, method)] = rows(warehouse, (
        "SELECT source, method_type, last4, max_charge_cents, status, gateway_customer, payment_method "
        "FROM autopay_mandates"))
    assert (source, method_type, last4, cap, status) == ("portal", "card", "4242", 509_900, "active")
    assert client.v1.payment_methods.retrieve(method).customer == gateway_customer


@pytest.mark.parametrize(("purpose", "currency", "why"), [("pay", "EUR", "takes days"),
                                                      ("autopay", "USD", "EUR invoices only")])
def test_a_bank_debit_is_only_for_automatic_payment_of_euro_invoices(portal, purpose, currency, why):
    """Paid now, a debit would stay processing for days with nothing holding reminders or autopay charges."""
    http, client = portal
    answer = http.post(f"{path()}/setup", json={"purpose": purpose, "currency": currency, "invoices": ["INV-4"],
                                                "method": "sepa_debit"})
    assert answer.status_code == 400 and why in answer.json()["error"]
    assert client.v1.setup_intents.list().data == []


def test_a_sepa_mandate_from_the_portal_keeps_the_banks_mandate_reference(portal, warehouse):
    http, client = portal
    body = {"purpose": "autopay", "currency": "EUR", "method": "sepa_debit"}
    setup_id = confirm_as_stripe_js(client, http, path(), body, method=sepa(client))
    assert http.post(f"{path()}/autopay", json={"setup_intent": setup_id}).json()["method"] == "sepa_debit"
    assert rows(warehouse, "SELECT currency, method_type, last4, mandate_reference, max_charge_cents "
                           "FROM autopay_mandates") == [("EUR", "sepa_debit", "3000", "NXDSYREGC9PSMKWY", 100_000)]


@pytest.mark.parametrize("token", [
    "expired", "altered", "other-key", "unknown-customer", "garbage", "empty-ish"])
def test_refused_links_show_the_same_page_and_no_customer_data(portal, token):
    http, _ = portal
    good = path().rsplit("/", 1)[1]
    tokens = {"expired": path(day=TODAY.replace(month=9)).rsplit("/", 1)[1],
              "altered": good[:-2] + ("AA" if not good.endswith("AA") else "BB"),
              "other-key": seal(PayLink("C1", "USD", TODAY), "another-key-of-the-same-length-000000000"),
              "unknown-customer": seal(PayLink("C404", "USD", TODAY), KEY), "garbage": "x", "empty-ish": "-_-"}
    for url in (f"/p/{tokens[token]}", f"/p/{tokens[token]}/statement.pdf"):
        page = http.get(url)
        assert page.status_code == 404 and "This link has expired or is not valid." in page.text
        for secret in ("Acme", "INV-", "C1", "$"):
            assert secret not in page.text
    assert http.post(f"/p/{tokens[token]}/setup", json={"purpose": "autopay", "currency": "USD"}).status_code == 404


# ---- webhooks ----

def signed(payload: bytes, secret: str = SANDBOX_WEBHOOK_SECRET, at: int | None = None) -> str:
    at = int(time.time()) if at is None else at
    mac = hmac.new(secret.encode(), f"{at}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={at},v1={mac}"


def succeeded_event(client) -> tuple[bytes, str]:
    """A portal payment that succeeded at Stripe (as the page's flow makes it), as Stripe's event carries it."""
    method = card(client)
    intent = client.v1.payment_intents.create(params={
        "amount": 125_000, "currency": "usd", "payment_method": method.id, "confirm": True,
        "metadata": {"arpilot_source": "portal", "arpilot_customer": "C1", "arpilot_currency": "USD",
                     "arpilot_method": "card", "arpilot_last4": "4242", "arpilot_invoices_1": '[["INV-1",125000]]'}})
    event = {"id": "evt_test_1", "object": "event", "type": "payment_intent.succeeded", "created": int(time.time()),
             "data": {"object": intent.to_dict()}}
    return json.dumps(event).encode(), intent.id


def forgeries(payload: bytes) -> list[tuple[bytes, dict]]:
    now = int(time.time())
    other = payload.replace(b'"amount": 125000', b'"amount": 1')
    mac = signed(payload).split("v1=")[1]
    return [
        (payload, {}), (payload, {"Stripe-Signature": ""}), (payload, {"Stripe-Signature": "garbage"}),
        (payload, {"Stripe-Signature": signed(payload, "whsec_other")}),
        (payload, {"Stripe-Signature": signed(payload, "")}),
        (other, {"Stripe-Signature": signed(payload)}),
        (payload.replace(b'"C1"', b'"C2"'), {"Stripe-Signature": signed(payload)}),
        (payload.replace(b"INV-1", b"INV-9"), {"Stripe-Signature": signed(payload)}),
        (payload + b" ", {"Stripe-Signature": signed(payload)}),
        (payload, {"Stripe-Signature": signed(payload, at=now - 301)}),  # replayed after the tolerance
        (payload, {"Stripe-Signature": signed(payload, at=now - 86_400)}),
        (payload, {"Stripe-Signature": signed(payload, at=0)}),
        (payload, {"Stripe-Signature": f"t={now},v0={mac}"}),
        (payload, {"Stripe-Signature": f"t={now}"}),
        (payload, {"Stripe-Signature": f"v1={mac}"}),
        (payload, {"Stripe-Signature": f"t={now},v1={mac[:-1]}"}),
        (payload, {"Stripe-Signature": f"t={now + 1},v1={mac}"}),
        (payload, {"Stripe-Signature": f"t={now},v1={mac.upper()}"}),
        (payload, {"Stripe-Signature": f"t=abc,v1={mac}"}),
        (b"", {"Stripe-Signature": signed(b"")}),
        (b"not json", {"Stripe-Signature": signed(b"not json")}),
        (payload, {"Stripe-Signature": f"t={now},v1={'0' * 64}"}),
        (payload, {"stripe-signature-x": signed(payload)}),
    ]


def test_forged_unsigned_altered_and_replayed_webhooks_are_refused_and_write_nothing(portal, warehouse):
    http, client = portal
    payload, _ = succeeded_event(client)
    cases = forgeries(payload)
    assert len(cases) >= 20
    answers = [http.post("/stripe/webhook", content=body, headers=headers).status_code for body, headers in cases]
    assert answers == [400] * len(cases)
    assert rows(warehouse, "SELECT * FROM gateway_payments") == rows(warehouse, "SELECT * FROM allocations") == []
    assert rows(warehouse, "SELECT open_cents FROM invoices WHERE invoice_number = 'INV-1'") == [(125_000,)]


def test_a_signed_webhook_is_recorded_once_however_often_it_is_delivered(portal, warehouse):
    http, client = portal
    payload, intent_id = succeeded_event(client)
    for _ in range(2):
        answer = http.post("/stripe/webhook", content=payload, headers={"Stripe-Signature": signed(payload)})
        assert answer.status_code == 200 and answer.json()["outcome"] == "succeeded"
    assert rows(warehouse, "SELECT intent_id, amount_cents, source FROM gateway_payments") == [
        (intent_id, 125_000, "portal")]
    assert rows(warehouse, "SELECT invoice_number, amount_cents FROM allocations") == [("INV-1", 125_000)]
    assert rows(warehouse, "SELECT open_cents FROM invoices WHERE invoice_number = 'INV-1'") == [(0,)]


def test_a_failed_payment_webhook_records_nothing(portal, warehouse):
    http, client = portal
    payload, _ = succeeded_event(client)
    failed = payload.replace(b"payment_intent.succeeded", b"payment_intent.payment_failed").replace(
        b'"status": "succeeded"', b'"status": "requires_payment_method"')
    answer = http.post("/stripe/webhook", content=failed, headers={"Stripe-Signature": signed(failed)})
    assert answer.json()["outcome"] == "failed" and rows(warehouse, "SELECT * FROM gateway_payments") == []
    assert stripe.Webhook  # the client's own verifier is what the app uses


def test_the_stripe_sandbox_lets_a_pages_stripe_js_in_only_where_stripe_does(stripe_server):
    """A publishable key opens Stripe.js's routes (with CORS for the page's origin); the secret key stays needed for
    the rest, so a page can never create or read charges."""
    import urllib.error
    import urllib.request

    def post(route: str, data: str) -> tuple[int, str | None]:
        request = urllib.request.Request(f"{stripe_server.base_url}{route}", data=data.encode(), method="POST",
                                         headers={"Origin": "http://127.0.0.1:8000",
                                                  "Content-Type": "application/x-www-form-urlencoded"})
        try:
            with urllib.request.urlopen(request) as answer:
                return answer.status, answer.headers.get("Access-Control-Allow-Origin")
        except urllib.error.HTTPError as refused:
            return refused.code, refused.headers.get("Access-Control-Allow-Origin")

    token = "key=pk_test_x&card[number]=4242424242424242&card[exp_month]=12&card[exp_year]=2030&card[cvc]=123"
    assert post("/v1/tokens", token) == (200, "http://127.0.0.1:8000")
    for route in ("/v1/customers", "/v1/payment_intents", "/v1/payment_methods", "/v1/charges"):
        assert post(route, "key=pk_test_x&amount=100&currency=usd")[0] == 401
    assert post("/v1/tokens", token.replace("pk_test_x", "nokey"))[0] == 401


def test_a_mandate_made_in_the_portal_is_charged_by_the_autopay_run(portal, warehouse, warehouse_url):
    """The charge stage plans and takes a portal mandate like any other: off session, with the card the customer
    saved in the page, capped by the portal's cap."""
    from blocks.autopay_policy import AutopayPolicy
    from blocks.warehouse import ArWarehouse
    from tasks.charges import records
    from tasks.charges.charging import read_plan, take_charge

    http, client = portal
    setup_id = confirm_as_stripe_js(client, http, path(), {"purpose": "autopay", "currency": "USD"})
    http.post(f"{path()}/autopay", json={"setup_intent": setup_id})
    [charge] = read_plan(ArWarehouse(url=warehouse_url), TODAY).charges
    assert (charge.customer_id, charge.currency, charge.amount_cents) == ("C1", "USD", 125_000)  # INV-1 is due
    with warehouse.begin() as conn:
        assert records.reserve(conn, charge, "run-1")
    assert take_charge(warehouse, client, charge, AutopayPolicy(), COMPANY, look_up_first=False) == "succeeded"
    assert rows(warehouse, "SELECT source, amount_cents FROM gateway_payments") == [("charge", 125_000)]
    assert rows(warehouse, "SELECT open_cents FROM invoices WHERE invoice_number = 'INV-1'") == [(0,)]
