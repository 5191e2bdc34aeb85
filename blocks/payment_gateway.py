"""The payment gateway: Stripe, through the official client, or a Stripe-compatible test server by ``api_base``.

Card and bank details never reach arpilot: the customer enters them on Stripe's own fields, and arpilot keeps only
Stripe's ids and the last four digits.
"""

from __future__ import annotations

import stripe
from prefect.blocks.core import Block
from pydantic import Field, SecretStr

from blocks.rate_limits import throttle

STRIPE_API = "https://api.stripe.com"
STRIPE_JS = "https://js.stripe.com/v3/"


class PaymentGateway(Block):
    _block_type_name = "arpilot payment gateway"
    _block_type_slug = "arpilot-payment-gateway"
    _description = "Stripe account for autopay charges and the pay portal."

    secret_key: SecretStr = Field(..., description="Secret key (sk_live_... or sk_test_...).")
    publishable_key: str = Field(..., description="Publishable key (pk_...), used by the pay portal's card form.")
    webhook_secret: SecretStr | None = Field(None, description="Signing secret of the portal's webhook endpoint "
                                                               "(whsec_...); without it webhooks are refused.")
    api_base: str | None = Field(None, description="Only for a Stripe-compatible test server; empty for Stripe.")
    timeout_seconds: float = Field(30, gt=0, description="HTTP timeout per request.")
    requests_per_second: float | None = Field(None, gt=0, description="Requests to Stripe per second, across every "
                                                                     "run, worker and the portal (a Prefect global "
                                                                     "concurrency limit); empty: no limit.")

    def describe(self) -> str:
        return f"stripe via {self.api_base or STRIPE_API}"

    def client(self) -> stripe.StripeClient:
        """A client that never retries by itself: after a lost answer, arpilot looks the charge up before it asks
        again, so a retry can never become a second charge even where Idempotency-Key is not honoured."""
        base = {"api": self.api_base.rstrip("/")} if self.api_base else None
        http = _RateLimited(f"arpilot-payment-gateway/{self._block_document_name or 'unsaved'}",
                            self.requests_per_second, timeout=self.timeout_seconds)
        return stripe.StripeClient(self.secret_key.get_secret_value(), base_addresses=base, max_network_retries=0,
                                   http_client=http)

    def js_url(self) -> str:
        """Stripe.js for the portal's payment form (a test server serves its own)."""
        return f"{self.api_base.rstrip('/')}/js.stripe.com/v3/" if self.api_base else STRIPE_JS


class _RateLimited(stripe.RequestsClient):
    """Stripe's HTTP client, each request taking a slot of the gateway's rate limit first (blocks/rate_limits.py)."""

    def __init__(self, block_name: str, per_second: float | None, **kwargs):
        super().__init__(**kwargs)
        self._block_name, self._per_second = block_name, per_second

    def request(self, *args, **kwargs):
        throttle(self._block_name, self._per_second)
        return super().request(*args, **kwargs)
