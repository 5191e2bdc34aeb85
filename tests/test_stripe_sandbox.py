"""What the real stripe client meets in the Stripe sandbox: the facts the autopay charge flow is built on.

Cards: a charge succeeds or raises CardError at once; a customer who must authenticate leaves requires_action.
SEPA: processing until settled. Idempotency keys replay; an intent is found again by customer and metadata.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import stripe

from sandbox.stripe_api import (
    AUTHENTICATING_CARD,
    DECLINING_CARD,
    FAILING_IBAN,
    SANDBOX_SECRET_KEY,
    SANDBOX_WEBHOOK_SECRET,
    SUCCEEDING_IBAN,
    StripeTestServer,
)

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def server():
    with StripeTestServer() as running:
        yield running


def client_for(server: StripeTestServer, **options) -> stripe.StripeClient:
    return stripe.StripeClient(SANDBOX_SECRET_KEY, base_addresses={"api": server.base_url}, **options)


@pytest.fixture
def client(server):
    return client_for(server)


def card(client: stripe.StripeClient, number: str = "4242424242424242") -> stripe.PaymentMethod:
    return client.v1.payment_methods.create(
        params={"type": "card", "card": {"number": number, "exp_month": 12, "exp_year": 2030, "cvc": "123"}})


def enrolled(client: stripe.StripeClient, method: stripe.PaymentMethod) -> stripe.Customer:
    """A customer with `method` attached, as autopay enrolment leaves one."""
    customer = client.v1.customers.create(params={"name": "Acme GmbH", "email": "ap@acme.example"})
    client.v1.payment_methods.attach(method.id, params={"customer": customer.id})
    return customer


def sepa(client: stripe.StripeClient, iban: str = SUCCEEDING_IBAN) -> stripe.PaymentMethod:
    return client.v1.payment_methods.create(params={
        "type": "sepa_debit", "sepa_debit": {"iban": iban}, "billing_details": {"name": "Acme GmbH"}})


def charge(client: stripe.StripeClient, customer: str, method: str, key: str, amount: int = 12_500,
           currency: str = "eur") -> stripe.PaymentIntent:
    """The call the charge flow makes: off-session, confirmed at once, keyed, with the charge key in metadata."""
    return client.v1.payment_intents.create(
        params={"amount": amount, "currency": currency, "customer": customer, "payment_method": method,
                "off_session": True, "confirm": True, "metadata": {"charge_key": key}},
        options={"idempotency_key": key})


def intents_of(client: stripe.StripeClient, customer: str) -> list[stripe.PaymentIntent]:
    return list(client.v1.payment_intents.list(params={"customer": customer, "limit": 2}).auto_paging_iter())


def test_client_reaches_the_sandbox_by_base_address_and_only_with_its_key(server, client):
    assert client.v1.customers.create(params={"name": "Acme"}).id.startswith("cus_")
    with pytest.raises(stripe.AuthenticationError) as refused:
        stripe.StripeClient("sk_test_other", base_addresses={"api": server.base_url}).v1.customers.list()
    assert refused.value.http_status == 401


def test_card_charge_off_session_succeeds_at_once(client):
    method = card(client)
    customer = enrolled(client, method)
    intent = charge(client, customer.id, method.id, "cus-1/eur/2026-11-24")
    assert (intent.status, intent.amount, intent.currency, intent.customer, intent.payment_method) == (
        "succeeded", 12_500, "eur", customer.id, method.id)
    assert intent.metadata.to_dict() == {"charge_key": "cus-1/eur/2026-11-24"}
    assert (intent.latest_charge.status, intent.latest_charge.paid) == ("succeeded", True)  # expanded, not an id
    assert charge(client, customer.id, "pm_card_visa", "test-token").status == "succeeded"


@pytest.mark.parametrize("number", ["4000000000000002", "4000000000009995", "4000000000009987", "4000000000009979",
                                    "4000000000000069", "4000000000000127", "4000000000000119"])
def test_stripes_decline_test_cards_fail_when_attached_with_no_decline_code(client, number):
    """Generic, insufficient funds, lost, stolen, expired, CVC, processing: all the same card_declined at enrolment."""
    method = card(client, number)
    customer = client.v1.customers.create(params={"name": "Acme"})
    with pytest.raises(stripe.CardError) as declined:
        client.v1.payment_methods.attach(method.id, params={"customer": customer.id})
    assert (declined.value.http_status, declined.value.code, declined.value.error.decline_code) == (
        402, "card_declined", None)
    # never attached, the same card is charged without a word: the flow must only charge attached methods
    assert charge(client, customer.id, method.id, f"unattached-{number}").status == "succeeded"


def test_a_card_declined_at_charge_time_raises_with_the_intent_it_left(client):
    method = card(client, DECLINING_CARD)
    customer = enrolled(client, method)
    with pytest.raises(stripe.CardError) as declined:
        charge(client, customer.id, method.id, "cus-1/eur/2026-11-24")
    error = declined.value.error
    assert (declined.value.http_status, error.type, error.code, error.decline_code) == (
        402, "card_error", "card_declined", None)
    assert (error.payment_intent.status, error.payment_intent.metadata["charge_key"]) == (
        "requires_payment_method", "cus-1/eur/2026-11-24")
    assert error.payment_intent.last_payment_error.code == "card_declined"
    failed = client.v1.charges.retrieve(error.charge)
    assert (failed.status, failed.failure_code, failed.payment_intent) == ("failed", "card_declined",
                                                                           error.payment_intent.id)


def test_a_soft_decline_is_paid_on_a_later_attempt(server, client):
    method = card(client)
    customer = enrolled(client, method)
    server.decline_next(method.id, "insufficient_funds")
    with pytest.raises(stripe.CardError) as declined:
        charge(client, customer.id, method.id, "cus-1/eur/2026-11-24/1")
    assert (declined.value.code, declined.value.error.decline_code) == ("card_declined", "insufficient_funds")
    first = client.v1.payment_intents.retrieve(declined.value.error.payment_intent.id)
    assert (first.status, first.last_payment_error.decline_code) == ("requires_payment_method", "insufficient_funds")
    assert charge(client, customer.id, method.id, "cus-1/eur/2026-11-24/2").status == "succeeded"
    assert [i.status for i in intents_of(client, customer.id)] == ["succeeded", "requires_payment_method"]


@pytest.mark.parametrize(("code", "decline_code"), [("card_declined", "lost_card"), ("card_declined", "stolen_card"),
                                                    ("expired_card", "expired_card")])
def test_a_hard_decline_carries_its_code(server, client, code, decline_code):
    method = card(client)
    customer = enrolled(client, method)
    server.decline_next(method.id, decline_code, count=2, code=code)
    for attempt in (1, 2):
        with pytest.raises(stripe.CardError) as declined:
            charge(client, customer.id, method.id, f"k/{attempt}")
        assert (declined.value.code, declined.value.error.decline_code) == (code, decline_code)
        assert declined.value.error.payment_intent.last_payment_error.decline_code == decline_code


def test_a_card_that_must_authenticate_leaves_requires_action_off_session(server, client):
    """localstripe answers 200 requires_action, where Stripe raises authentication_required: the flow takes both."""
    method = card(client, AUTHENTICATING_CARD)
    customer = enrolled(client, method)
    intent = charge(client, customer.id, method.id, "needs-3ds")
    assert (intent.status, intent.next_action.type, intent.latest_charge) == ("requires_action", "use_stripe_sdk",
                                                                              None)
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.payment_intents.confirm(intent.id)
    assert client.v1.payment_intents.cancel(intent.id).status == "canceled"
    other = card(client)
    enrolled(client, other)
    server.decline_next(other.id, "authentication_required", code="authentication_required")  # Stripe's way
    with pytest.raises(stripe.CardError) as declined:
        charge(client, customer.id, other.id, "needs-3ds-stripe-style")
    assert declined.value.error.payment_intent.status == "requires_payment_method"


def test_a_sepa_debit_is_processing_until_it_settles_then_succeeds(server, client):
    method = sepa(client)
    customer = enrolled(client, method)
    intent = charge(client, customer.id, method.id, "sepa-1")
    assert (intent.status, intent.latest_charge.status, intent.latest_charge.paid) == ("processing", "pending", False)
    time.sleep(0.7)  # past localstripe's own 0.5 s
    assert client.v1.payment_intents.retrieve(intent.id).status == "processing"
    assert server.settle_debits() == 1
    settled = client.v1.payment_intents.retrieve(intent.id)
    assert (settled.status, settled.latest_charge.paid) == ("succeeded", True)
    assert settled.latest_charge.balance_transaction.startswith("txn_")


def test_a_sepa_debit_fails_when_it_settles_from_the_failing_iban_or_a_chosen_decline(server, client):
    failing, other = sepa(client, FAILING_IBAN), sepa(client)
    customer = enrolled(client, failing)
    client.v1.payment_methods.attach(other.id, params={"customer": customer.id})
    server.decline_next(other.id, "insufficient_funds", code="insufficient_funds")
    intents = [charge(client, customer.id, failing.id, "sepa-1"), charge(client, customer.id, other.id, "sepa-2")]
    assert [i.status for i in intents] == ["processing", "processing"]
    assert server.settle_debits() == 2
    failed = [client.v1.payment_intents.retrieve(i.id) for i in intents]
    assert [(i.status, i.last_payment_error.code, i.last_payment_error.to_dict().get("decline_code"))
            for i in failed] == [("requires_payment_method", "card_declined", None),
                                 ("requires_payment_method", "insufficient_funds", "insufficient_funds")]


def test_a_sepa_debit_settles_by_itself_after_settle_after():
    with StripeTestServer(settle_after=0.2) as server:
        client = client_for(server)
        method = sepa(client)
        intent = charge(client, enrolled(client, method).id, method.id, "sepa-1")
        assert intent.status == "processing"
        deadline = time.monotonic() + 5
        while client.v1.payment_intents.retrieve(intent.id).status == "processing" and time.monotonic() < deadline:
            time.sleep(0.05)
        assert client.v1.payment_intents.retrieve(intent.id).status == "succeeded"


def test_an_idempotency_key_replays_its_first_answer_and_refuses_other_parameters(client):
    method, declining = card(client), card(client, DECLINING_CARD)
    customer = enrolled(client, method)
    client.v1.payment_methods.attach(declining.id, params={"customer": customer.id})
    first, again = (charge(client, customer.id, method.id, "cus-1/eur/2026-11-24") for _ in range(2))
    assert again.id == first.id
    assert (first.last_response.headers.get("Idempotent-Replayed"),
            again.last_response.headers.get("Idempotent-Replayed")) == (None, "true")
    declined = []
    for _ in range(2):
        with pytest.raises(stripe.CardError) as error:
            charge(client, customer.id, declining.id, "cus-1/eur/2026-11-25")
        declined.append(error.value.error.payment_intent.id)
    assert declined[0] == declined[1]  # a decline is replayed too, not retried at the bank
    with pytest.raises(stripe.IdempotencyError) as misuse:
        charge(client, customer.id, method.id, "cus-1/eur/2026-11-24", amount=1)
    assert misuse.value.http_status == 400
    assert len(intents_of(client, customer.id)) == 2


def test_a_request_refused_before_it_ran_keeps_no_key_and_the_clients_retry_sends_the_same_key(server):
    client = client_for(server, max_network_retries=1)  # StripeClient's default is no retry
    method = card(client)
    customer = enrolled(client, method)
    server.fail_next(1, 503)
    assert charge(client, customer.id, method.id, "k").status == "succeeded"
    server.fail_next(1, 503)
    client.v1.customers.create(params={"name": "Beta"})  # no key given: the client makes one and retries with it
    assert len(intents_of(client, customer.id)) == 1
    assert len(client.v1.customers.list().data) == 2
    server.fail_next(1, 503)
    with pytest.raises(stripe.APIError):
        client_for(server).v1.customers.list()


def test_localstripe_itself_ignores_idempotency_keys():
    with StripeTestServer(replay_idempotency_keys=False) as server:
        client = client_for(server)
        method = card(client)
        customer = enrolled(client, method)
        first, again = (charge(client, customer.id, method.id, "same-key") for _ in range(2))
        assert first.id != again.id
        assert len(intents_of(client, customer.id)) == 2


def test_a_charge_whose_answer_was_lost_is_found_by_customer_and_metadata_or_by_its_key(server):
    """A run that died in the gateway call reconciles: list the customer's intents, newest first, match the key."""
    impatient = client_for(server, http_client=stripe.RequestsClient(timeout=0.3))
    method = card(impatient)
    customer = enrolled(impatient, method)
    charge(impatient, customer.id, method.id, "cus-1/eur/2026-11-23")
    server.answer_late(1, 1.0)
    with pytest.raises(stripe.APIConnectionError):
        charge(impatient, customer.id, method.id, "cus-1/eur/2026-11-24")
    client = client_for(server)
    found = [i for i in intents_of(client, customer.id) if i.metadata["charge_key"] == "cus-1/eur/2026-11-24"]
    assert [i.status for i in found] == ["succeeded"]
    assert intents_of(client, customer.id)[0].id == found[0].id  # newest first, as Stripe lists
    assert charge(client, customer.id, method.id, "cus-1/eur/2026-11-24").id == found[0].id
    with pytest.raises(stripe.InvalidRequestError) as search:
        client.v1.payment_intents.search(params={"query": "metadata['charge_key']:'cus-1/eur/2026-11-24'"})
    assert search.value.http_status == 404  # no search API: GET /v1/payment_intents/search is read as an id


class _Hooks(BaseHTTPRequestHandler):
    received: list[tuple[str, bytes]] = []

    def do_POST(self) -> None:
        self.received.append((self.headers["Stripe-Signature"], self.rfile.read(int(self.headers["Content-Length"]))))
        self.send_response(200)
        self.end_headers()

    def log_message(self, format, *args) -> None:
        pass


def test_webhooks_are_posted_once_signed_for_construct_event(server, client):
    _Hooks.received = []
    receiver = ThreadingHTTPServer(("127.0.0.1", 0), _Hooks)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{receiver.server_address[1]}/stripe/webhook"
        request = urllib.request.Request(f"{server.base_url}/_config/webhooks/arpilot", method="POST",
                                         data=json.dumps({"url": url, "secret": SANDBOX_WEBHOOK_SECRET,
                                                          "events": ["payment_intent.succeeded",
                                                                     "payment_intent.payment_failed"]}).encode(),
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request) as answer:  # what server.add_webhook does in-process
            assert answer.status == 200
        method, debit = card(client), sepa(client, FAILING_IBAN)
        customer = enrolled(client, method)
        client.v1.payment_methods.attach(debit.id, params={"customer": customer.id})
        paid = charge(client, customer.id, method.id, "card-1")
        failed = charge(client, customer.id, debit.id, "sepa-1")
        server.settle_debits()
        deadline = time.monotonic() + 5
        while len(_Hooks.received) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.2)
    finally:
        receiver.shutdown()
        receiver.server_close()
    events = [stripe.Webhook.construct_event(body, signature, SANDBOX_WEBHOOK_SECRET)
              for signature, body in _Hooks.received]
    # each event is posted once; like Stripe, the sandbox does not promise their order
    assert sorted((e.type, e.data.object.id, e.data.object.status) for e in events) == sorted([
        ("payment_intent.succeeded", paid.id, "succeeded"),
        ("payment_intent.payment_failed", failed.id, "requires_payment_method")])
    assert {e.type: e.data.object.metadata.charge_key for e in events}["payment_intent.succeeded"] == "card-1"
    signature, body = _Hooks.received[0]
    assert signature.startswith(f"t={json.loads(body)['created']},v1=")  # t is the event's creation time
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(body, signature, "whsec_other")
    assert [e.type for e in client.v1.events.list(params={"type": "payment_intent.succeeded"}).data] == [
        "payment_intent.succeeded"]


def test_a_setup_intent_saves_a_sepa_method_but_neither_attaches_it_nor_takes_mandate_data(client):
    customer = client.v1.customers.create(params={"name": "Acme GmbH"})
    setup = client.v1.setup_intents.create(
        params={"customer": customer.id, "payment_method_types": ["sepa_debit"], "usage": "off_session"})
    assert setup.status == "requires_payment_method"
    method = sepa(client)
    assert client.v1.setup_intents.confirm(setup.id, params={"payment_method": method.id}).status == "succeeded"
    assert client.v1.payment_methods.retrieve(method.id).customer is None  # attach it yourself
    again = client.v1.setup_intents.create(params={"customer": customer.id, "payment_method_types": ["sepa_debit"]})
    with pytest.raises(stripe.InvalidRequestError, match="Unexpected mandate_data"):
        client.v1.setup_intents.confirm(again.id, params={
            "payment_method": method.id, "mandate_data": {"customer_acceptance": {"type": "offline"}}})


@pytest.mark.parametrize("extra", [{"description": "INV-1001"}, {"statement_descriptor_suffix": "INV1001"},
                                   {"error_on_requires_action": True}, {"mandate": "mandate_1"},
                                   {"receipt_email": "ap@acme.example"}])
def test_localstripe_refuses_payment_intent_parameters_it_does_not_know(client, extra):
    """Only amount, currency, customer, payment_method(_types/_options), metadata, capture_method, confirm and
    off_session are taken: anything else is 400 "Unexpected <name>", and nothing is created."""
    customer = client.v1.customers.create(params={"name": "Acme"})
    with pytest.raises(stripe.InvalidRequestError, match="Unexpected"):
        client.v1.payment_intents.create(params={"amount": 100, "currency": "eur", "customer": customer.id,
                                                 "payment_method": "pm_card_visa", "confirm": True, **extra})
    assert intents_of(client, customer.id) == []


def test_us_bank_accounts_are_not_supported(client):
    with pytest.raises(stripe.InvalidRequestError, match="Unexpected us_bank_account"):
        client.v1.payment_methods.create(params={"type": "us_bank_account", "us_bank_account": {
            "account_holder_type": "company", "account_number": "000123456789", "routing_number": "110000000"}})


def test_one_server_per_process_each_starting_empty(server, client):
    client.v1.customers.create(params={"name": "Acme"})
    with pytest.raises(RuntimeError, match="already running"):
        StripeTestServer().start()
    server.stop()
    with StripeTestServer() as fresh:
        assert client_for(fresh).v1.customers.list().data == []
    server.start()
    assert client_for(server).v1.customers.list().data == []


def test_command_line_serves_stripe_from_its_own_process(tmp_path):
    process = subprocess.Popen([sys.executable, "-m", "sandbox", "--folder", str(tmp_path)], cwd=ROOT,
                               stdout=subprocess.PIPE, text=True)
    try:
        endpoints = json.loads(process.stdout.readline())
        client = stripe.StripeClient(SANDBOX_SECRET_KEY, base_addresses={"api": endpoints["stripe_url"]})
        assert client.v1.customers.create(params={"name": "Acme"}).id.startswith("cus_")
    finally:
        process.terminate()
        process.stdout.close()
        assert process.wait(timeout=5) == 0
