"""Paying from the portal through the gateway, with card data only ever between the browser and Stripe.

Pay now: the page confirms a SetupIntent with Stripe.js (the card goes to Stripe); the server then creates and
confirms one PaymentIntent for the chosen invoices' open amounts (metadata: the customer, each invoice and its
cents, keyed by the SetupIntent so a retried request finds the same intent); a card that must authenticate is
finished by Stripe.js in the page. Whatever the browser says, the payment is recorded only from the gateway's own
answer (the intent retrieved by the server, or a signed webhook), once per intent (tasks/charges/payments.py).
Autopay: the same SetupIntent, off session, becomes a mandate row with the cap in tasks/portal/account.py.
"""

from __future__ import annotations

import json
from datetime import date

import stripe
from sqlalchemy.engine import Engine

from blocks.company import CURRENCIES
from tasks.charges import mandates
from tasks.charges.payments import GatewayPayment, record_payment
from tasks.portal.account import Account, PaymentRefused, autopay_cap_cents, payable, read_account

SOURCE = "portal"
# A card pays now or automatically. A SEPA debit only automatically: it stays processing for days, and only the
# charge run holds reminders and further charges meanwhile; paid now, nothing would know the invoices are being paid.
METHODS = ("card", "sepa_debit")
_CHUNK = 480  # Stripe keeps metadata values up to 500 characters


class IntentNotTheirs(LookupError):
    """An intent id the page sent that is not this customer's portal payment: nothing is shown or recorded."""


def _chunked(prefix: str, value) -> dict[str, str]:
    """``value`` as JSON over prefix1, prefix2, ... : Stripe keeps metadata values up to 500 characters."""
    text = json.dumps(value, separators=(",", ":"))
    return {f"{prefix}{n + 1}": text[i:i + _CHUNK] for n, i in enumerate(range(0, len(text), _CHUNK))}


def _joined(metadata: dict, prefix: str):
    parts = sorted((k for k in metadata if k.startswith(prefix) and k[len(prefix):].isdigit()),
                   key=lambda k: int(k[len(prefix):]))
    return json.loads("".join(metadata[k] for k in parts)) if parts else []


def applied_from(metadata: dict) -> tuple[tuple[str, int], ...]:
    """(invoice, cents) per invoice a portal intent pays, as its metadata names them."""
    return tuple((str(number), int(cents)) for number, cents in _joined(metadata, "arpilot_invoices_"))


def gateway_customer(client: stripe.StripeClient, engine: Engine, account: Account) -> str:
    """The customer's Stripe customer: the one their mandates use, else one made for them, keyed by our id (Stripe
    keeps a key 24 hours: a customer paying again another day without a mandate gets a new Stripe customer)."""
    with engine.connect() as conn:
        known = mandates.gateway_customer_of(conn, account.customer_id)
    if known:
        return known
    made = client.v1.customers.create(params={"name": account.name,
                                              "metadata": {"arpilot_customer": account.customer_id}},
                                      options={"idempotency_key": f"arpilot-portal-customer/{account.customer_id}"})
    return made.id


def start_setup(client: stripe.StripeClient, engine: Engine, account: Account, currency: str, purpose: str,
                numbers: list[str], method: str = "card") -> str:
    """A SetupIntent for the page to confirm with Stripe.js; returns its client secret (never stored)."""
    if method not in METHODS:
        raise PaymentRefused("Choose to pay by card or by bank debit.")
    if method == "sepa_debit" and purpose == "pay":
        raise PaymentRefused("A bank debit takes days to arrive: pay now by card, or let us debit your account "
                             "automatically on each due date.")
    if method == "sepa_debit" and currency != "EUR":
        raise PaymentRefused(f"Bank debit (SEPA) is for EUR invoices only; please pay {currency} by card.")
    if purpose == "pay":
        payable(account, currency, numbers)
    elif currency not in CURRENCIES:
        raise PaymentRefused(f"{currency} is not a currency we can charge.")
    setup = client.v1.setup_intents.create(params={
        "customer": gateway_customer(client, engine, account), "payment_method_types": [method],
        "usage": "off_session" if purpose == "autopay" else "on_session",
        "metadata": {"arpilot_source": SOURCE, "arpilot_customer": account.customer_id, "arpilot_currency": currency,
                     "arpilot_purpose": purpose, **_chunked("arpilot_chosen_", numbers)}})
    return setup.client_secret


def _confirmed_setup(client: stripe.StripeClient, customer_id: str, setup_id: str, purpose: str):
    """The SetupIntent as the gateway has it, if it is this customer's, for this purpose, and succeeded."""
    setup = client.v1.setup_intents.retrieve(setup_id)
    metadata = setup.metadata.to_dict()
    if metadata.get("arpilot_customer") != customer_id or metadata.get("arpilot_purpose") != purpose:
        raise IntentNotTheirs(setup_id)
    if setup.status != "succeeded":
        raise PaymentRefused("The card was not confirmed; please try again.")
    method = client.v1.payment_methods.retrieve(setup.payment_method)
    if method.customer is None:  # Stripe attaches it on success; a test server may not
        method = client.v1.payment_methods.attach(method.id, params={"customer": setup.customer})
    return setup, metadata, method


def pay_with_setup(client: stripe.StripeClient, engine: Engine, account: Account, setup_id: str,
                   today: date) -> dict:
    """Charge the chosen invoices' open amounts to the card the page just confirmed; record it if it succeeded."""
    setup, metadata, method = _confirmed_setup(client, account.customer_id, setup_id, "pay")
    if metadata.get("arpilot_intent"):  # asked again (a double click, a retry): that intent, never a second one
        return check_intent(client, engine, account.customer_id, metadata["arpilot_intent"], today)
    currency = metadata["arpilot_currency"]
    applied = payable(account, currency, [str(n) for n in _joined(metadata, "arpilot_chosen_")])
    last4, _ = mandates.details(method)
    try:
        intent = client.v1.payment_intents.create(params={
            "amount": sum(cents for _, cents in applied), "currency": currency.lower(), "customer": setup.customer,
            "payment_method": method.id, "confirm": True,
            "metadata": {"arpilot_source": SOURCE, "arpilot_customer": account.customer_id,
                         "arpilot_currency": currency, "arpilot_key": f"portal/{setup_id}",
                         "arpilot_method": method.type, "arpilot_last4": last4 or "", **_chunked("arpilot_invoices_", applied)}},
            options={"idempotency_key": f"arpilot-portal-pay/{setup_id}"})
    except stripe.CardError as declined:
        raise PaymentRefused(f"Your card was declined ({declined.user_message or declined.code}); nothing was "
                             "charged.") from None
    client.v1.setup_intents.update(setup_id, params={"metadata": {"arpilot_intent": intent.id}})
    return settle(engine, intent, today)


def check_intent(client: stripe.StripeClient, engine: Engine, customer_id: str, intent_id: str, today: date) -> dict:
    """After the page finished a card's authentication: ask the gateway, never the browser, and record."""
    intent = client.v1.payment_intents.retrieve(intent_id)
    if intent.metadata.to_dict().get("arpilot_customer") != customer_id:
        raise IntentNotTheirs(intent_id)
    return settle(engine, intent, today)


def payment_of(intent, received_on: date) -> GatewayPayment | None:
    """The warehouse payment for a succeeded portal intent; None for anything else."""
    metadata = intent.metadata.to_dict()
    if intent.status != "succeeded" or metadata.get("arpilot_source") != SOURCE:
        return None
    applied = applied_from(metadata)
    if sum(cents for _, cents in applied) != intent.amount or intent.currency != metadata["arpilot_currency"].lower():
        raise ValueError(f"intent {intent.id}: its invoices add up to another amount or currency than it took")
    return GatewayPayment(intent.id, SOURCE, metadata["arpilot_customer"], metadata["arpilot_currency"],
                          received_on, metadata.get("arpilot_method") or "card", metadata.get("arpilot_last4") or None,
                          applied)


def settle(engine: Engine, intent, today: date) -> dict:
    """Record a succeeded intent (once, however often asked); tell the page what to do next."""
    payment = payment_of(intent, today)
    if payment is not None:
        with engine.begin() as conn:
            record_payment(conn, payment)
    answer = {"status": intent.status, "intent": intent.id}
    if intent.status == "requires_action":
        answer["client_secret"] = intent.client_secret
    return answer


def enrol(client: stripe.StripeClient, engine: Engine, customer_id: str, setup_id: str, today: date,
          cap_multiple: int) -> dict:
    """Make the confirmed SetupIntent the customer's autopay mandate in its currency (replacing an older one)."""
    setup, metadata, method = _confirmed_setup(client, customer_id, setup_id, "autopay")
    currency = metadata["arpilot_currency"]
    last4, bank_reference = mandates.details(method)
    reference = getattr(setup, "mandate", None) or bank_reference or setup.id  # Stripe's mandate, else the bank's
    with engine.begin() as conn:
        cap = autopay_cap_cents(conn, customer_id, currency, today, cap_multiple)
        mandates.save(conn, mandates.Mandate(customer_id, currency, setup.customer, method.id, method.type, last4,
                                             reference, cap, SOURCE))
    return {"status": "enrolled", "currency": currency, "method": method.type, "last4": last4,
            "max_charge_cents": cap}


def account_of(engine: Engine, customer_id: str) -> Account | None:
    with engine.connect() as conn:
        return read_account(conn, customer_id)
