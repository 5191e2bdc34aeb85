"""Stripe's webhooks for the portal: believed only with a valid signature, acted on at most once per intent."""

from __future__ import annotations

import logging
from datetime import date

import stripe
from sqlalchemy.engine import Engine

from tasks.charges.gateway import outcome_of
from tasks.charges.records import settle as settle_charge
from tasks.portal.checkout import SOURCE, settle

log = logging.getLogger("arpilot.portal")
TOLERANCE_SECONDS = 300  # Stripe's own default: an older signed delivery is a replay


class WebhookRefused(ValueError):
    """Unsigned, forged, altered or replayed: nothing is read from it."""


def verified_event(payload: bytes, signature: str | None, secret: str | None) -> stripe.Event:
    if not secret:
        raise WebhookRefused("no webhook secret configured in the payment gateway block")
    if not signature:
        raise WebhookRefused("no Stripe-Signature")
    try:
        return stripe.Webhook.construct_event(payload, signature, secret, tolerance=TOLERANCE_SECONDS)
    except (stripe.SignatureVerificationError, ValueError) as error:
        raise WebhookRefused(f"signature refused: {type(error).__name__}") from None


def handle_event(event: stripe.Event, engine: Engine, today: date) -> str:
    """Record a succeeded portal payment or autopay charge (a bank debit settles days after it was asked); a failed
    portal payment is only logged (the customer saw it in the page), a failed charge is left to the charge run's
    poll, which also schedules its retry."""
    intent = event.data.object
    if not event.type.startswith("payment_intent."):
        return "ignored"
    metadata = intent.metadata.to_dict()
    if metadata.get("charge_key") and event.type == "payment_intent.succeeded":
        with engine.begin() as conn:
            return "recorded" if settle_charge(conn, metadata["charge_key"], outcome_of(intent)) else "duplicate"
    if metadata.get("arpilot_source") != SOURCE:
        return "ignored"
    if event.type == "payment_intent.succeeded":
        return settle(engine, intent, today)["status"]
    if event.type == "payment_intent.payment_failed":
        error = intent.last_payment_error
        log.info("Portal payment %s failed: %s", intent.id, getattr(error, "code", None) or "no reason given")
        return "failed"
    return "ignored"
