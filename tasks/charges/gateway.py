"""Asking the payment gateway for money, and finding out afterwards what it did.

A charge is one off-session PaymentIntent, confirmed at once, carrying its charge key as Idempotency-Key and in
metadata. The client never retries by itself: when an answer is lost, arpilot first looks the intent up by its key
among the customer's intents and only asks again when none exists, so a charge is never made twice even by a
gateway (or test server) that does not honour Idempotency-Key. A request whose answer was lost may itself still be on
its way (held up in a proxy): an empty lookup proves nothing until it cannot arrive any more, so such a charge is
asked again only by a later run, after the policy's grace (charging.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import stripe

from tasks.charges.plan import PlannedCharge

# Stripe amounts are in the currency's smallest unit; arpilot keeps every currency in hundredths.
ZERO_DECIMAL = frozenset("BIF CLP DJF GNF JPY KMF KRW MGA PYG RWF UGX VND VUV XAF XOF XPF".split())
THREE_DECIMAL = frozenset("BHD JOD KWD OMR TND".split())


class GatewayUnavailable(ConnectionError):
    """The gateway could not be reached or was busy (timeout, 5xx, 429): whether it acted is not known.
    in_flight: a create that may still reach the gateway and act (anything but a 429, which Stripe never ran)."""

    def __init__(self, message: str, in_flight: bool = False):
        super().__init__(message)
        self.in_flight = in_flight


@dataclass(frozen=True)
class Outcome:
    status: str  # succeeded | processing | requires_action | failed
    intent_id: str | None
    failure_code: str | None = None
    failure_reason: str | None = None


def gateway_amount(cents: int, currency: str) -> int:
    """Hundredths as the gateway's smallest unit: 123400 JPY-hundredths -> 1234 yen; refuses a fraction of a yen."""
    if currency in ZERO_DECIMAL:
        if cents % 100:
            raise ValueError(f"{cents / 100} {currency} has a fraction, which {currency} cannot be charged in")
        return cents // 100
    return cents * 10 if currency in THREE_DECIMAL else cents


def outcome_of(intent) -> Outcome:
    """What a PaymentIntent's state means for the charge."""
    if intent.status in ("succeeded", "processing"):
        return Outcome(intent.status, intent.id)
    if intent.status in ("requires_action", "requires_confirmation"):
        return Outcome("requires_action", intent.id, "authentication_required",
                       "the customer must authenticate this payment")
    error = intent.last_payment_error
    code = (getattr(error, "decline_code", None) or getattr(error, "code", None)) if error else None
    reason = getattr(error, "message", None) if error else None
    return Outcome("failed", intent.id, code or intent.status, reason or f"payment intent {intent.status}")


def submit(client: stripe.StripeClient, charge: PlannedCharge) -> Outcome:
    """Create and confirm the charge's PaymentIntent; a decline is an Outcome, an unreachable gateway raises."""
    params = {"amount": gateway_amount(charge.amount_cents, charge.currency), "currency": charge.currency.lower(),
              "customer": charge.gateway_customer, "payment_method": charge.payment_method, "off_session": True,
              "confirm": True, "metadata": {"charge_key": charge.charge_key, "customer_id": charge.customer_id}}
    try:
        intent = client.v1.payment_intents.create(params=params, options={"idempotency_key": charge.charge_key})
    except stripe.CardError as declined:
        error = declined.error
        intent = getattr(error, "payment_intent", None)
        return Outcome("failed", intent.id if intent else None, error.decline_code or error.code,
                       error.message or "declined")
    except (stripe.APIConnectionError, stripe.RateLimitError, stripe.IdempotencyError) as exc:
        raise GatewayUnavailable(f"{type(exc).__name__}: {exc.user_message or exc}",
                                 in_flight=not isinstance(exc, stripe.RateLimitError)) from None
    except stripe.APIError as exc:
        raise GatewayUnavailable(f"the gateway answered {exc.http_status}: {exc.user_message or exc}",
                                 in_flight=True) from None
    except stripe.InvalidRequestError as exc:
        return Outcome("failed", None, exc.code or "invalid_request", exc.user_message or str(exc))
    return outcome_of(intent)


def find(client: stripe.StripeClient, gateway_customer: str, key: str):
    """The PaymentIntent made for charge ``key``, or None when the gateway never made one (newest first, so a
    charge from a recent crash is found on the first page)."""
    try:
        listing = client.v1.payment_intents.list(params={"customer": gateway_customer, "limit": 100})
        return next((i for i in listing.auto_paging_iter()
                     if i.metadata and i.metadata.to_dict().get("charge_key") == key), None)
    except (stripe.APIConnectionError, stripe.RateLimitError, stripe.APIError) as exc:
        raise GatewayUnavailable(f"cannot look up charge {key}: {exc.user_message or exc}") from None


def poll(client: stripe.StripeClient, intent_id: str) -> Outcome:
    """The current outcome of a charge still processing (a bank debit settles in days)."""
    try:
        return outcome_of(client.v1.payment_intents.retrieve(intent_id))
    except (stripe.APIConnectionError, stripe.RateLimitError, stripe.APIError) as exc:
        raise GatewayUnavailable(f"cannot check payment {intent_id}: {exc.user_message or exc}") from None
