"""Autopay mandates: a customer's standing permission to charge one payment method in one currency.

Enrolment attaches the payment method to the customer at the gateway (a card the bank refuses is refused here,
before any charge is planned) and keeps only the gateway's ids, the method type and the last four digits.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
import stripe
from sqlalchemy.engine import Connection

from tasks import warehouse as wh

METHOD_TYPES = ("card", "us_bank_account", "sepa_debit")


class EnrolmentRefused(ValueError):
    """The gateway would not accept the payment method for this customer; the message says why."""


@dataclass(frozen=True)
class Mandate:
    customer_id: str
    currency: str
    gateway_customer: str
    payment_method: str
    method_type: str
    last4: str | None
    mandate_reference: str | None
    max_charge_cents: int
    source: str  # ledger | portal | cli


def gateway_customer_of(conn: Connection, customer_id: str) -> str | None:
    """The gateway customer an earlier mandate (any currency) made for this customer."""
    return conn.execute(sa.text("SELECT gateway_customer FROM autopay_mandates WHERE customer_id = :c "
                                "ORDER BY updated_at DESC"), {"c": customer_id}).scalar()


def attach(client: stripe.StripeClient, gateway_customer: str | None, customer_id: str, name: str,
           payment_method: str) -> tuple[str, stripe.PaymentMethod]:
    """Attach ``payment_method`` to the customer at the gateway (creating the gateway customer the first time)."""
    try:
        if gateway_customer is None:
            gateway_customer = client.v1.customers.create(
                params={"name": name, "metadata": {"customer_id": customer_id}}).id
        method = client.v1.payment_methods.attach(payment_method, params={"customer": gateway_customer})
    except (stripe.CardError, stripe.InvalidRequestError) as refused:
        raise EnrolmentRefused(f"the gateway refused payment method {payment_method} for customer {customer_id}: "
                               f"{refused.user_message or refused}") from None
    if method.type not in METHOD_TYPES:
        raise EnrolmentRefused(f"payment method {payment_method} is a {method.type}; autopay takes "
                               f"{', '.join(METHOD_TYPES)}")
    return gateway_customer, method


def details(method: stripe.PaymentMethod) -> tuple[str | None, str | None]:
    """(last four digits, mandate reference) of a payment method: never the number itself."""
    own = getattr(method, method.type, None)
    return getattr(own, "last4", None), getattr(own, "mandate_reference", None)


def save(conn: Connection, mandate: Mandate) -> None:
    """Make ``mandate`` the customer's active one in its currency (a previous one in that currency is replaced)."""
    now = wh.utcnow()
    conn.execute(sa.text(
        "INSERT INTO autopay_mandates (customer_id, currency, gateway_customer, payment_method, method_type, last4, "
        "mandate_reference, accepted_at, max_charge_cents, status, source, revoked_at, updated_at) VALUES (:c, :cur, "
        ":gc, :pm, :mt, :l4, :ref, :now, :max, 'active', :src, NULL, :now) ON CONFLICT (customer_id, currency) DO "
        "UPDATE SET gateway_customer = excluded.gateway_customer, payment_method = excluded.payment_method, "
        "method_type = excluded.method_type, last4 = excluded.last4, mandate_reference = excluded.mandate_reference, "
        "accepted_at = excluded.accepted_at, max_charge_cents = excluded.max_charge_cents, status = 'active', "
        "source = excluded.source, revoked_at = NULL, updated_at = excluded.updated_at"),
        {"c": mandate.customer_id, "cur": mandate.currency, "gc": mandate.gateway_customer,
         "pm": mandate.payment_method, "mt": mandate.method_type, "l4": mandate.last4, "ref": mandate.mandate_reference,
         "now": now, "max": mandate.max_charge_cents, "src": mandate.source})


def revoke(conn: Connection, customer_id: str, currency: str) -> bool:
    """Stop charging the customer in ``currency``; the mandate stays, revoked, for the history."""
    now = wh.utcnow()
    return bool(conn.execute(sa.text(
        "UPDATE autopay_mandates SET status = 'revoked', revoked_at = :now, updated_at = :now "
        "WHERE customer_id = :c AND currency = :cur AND status = 'active'"),
        {"c": customer_id, "cur": currency, "now": now}).rowcount)


def enroll(engine, client: stripe.StripeClient, customer_id: str, currency: str, payment_method: str,
           max_charge_cents: int, source: str) -> Mandate:
    """Enrol a customer of the warehouse for autopay in ``currency`` with a payment method the gateway holds."""
    with engine.connect() as conn:
        name = conn.execute(sa.text("SELECT name FROM customers WHERE customer_id = :c"), {"c": customer_id}).scalar()
        if name is None:
            raise EnrolmentRefused(f"customer {customer_id} is not in the warehouse; sync the ledger first")
        known = gateway_customer_of(conn, customer_id)
    gateway_customer, method = attach(client, known, customer_id, name, payment_method)
    last4, reference = details(method)
    mandate = Mandate(customer_id, currency.upper(), gateway_customer, method.id, method.type, last4, reference,
                      max_charge_cents, source)
    with engine.begin() as conn:
        save(conn, mandate)
    return mandate
