"""A small portal world for the portal tests: blocks pointing at the Stripe sandbox, and a seeded warehouse."""

from __future__ import annotations

from datetime import date

import pytest
from dunning_cases import Ledger, seed
from pydantic import SecretStr

from blocks.company import CompanyProfile
from blocks.pay_portal import PayPortal
from blocks.payment_gateway import PaymentGateway
from sandbox.stripe_api import SANDBOX_SECRET_KEY, SANDBOX_WEBHOOK_SECRET

TODAY = date(2026, 11, 23)
KEY = "portal-signing-key-0123456789abcdef-test"
PORTAL = PayPortal(base_url="https://pay.northwind.example", signing_key=SecretStr(KEY), link_lifetime_days=45)
COMPANY = CompanyProfile(legal_name="Northwind Components Ltd", time_zone="America/Chicago", brand_color="#1f4e79")


def gateway(stripe_server) -> PaymentGateway:
    return PaymentGateway(secret_key=SecretStr(SANDBOX_SECRET_KEY), publishable_key="pk_test_arpilot_sandbox",
                          webhook_secret=SecretStr(SANDBOX_WEBHOOK_SECRET), api_base=stripe_server.base_url)


def seed_customers(engine) -> None:
    """C1 owes three USD invoices (one disputed) and one EUR; C2 owes one USD invoice."""
    ledger = (Ledger(TODAY).customer("C1", "Acme GmbH").customer("C2", "Beta LLC")
              .invoice("INV-1", "C1", 20, 125_000).invoice("INV-2", "C1", -5, 30_050)
              .invoice("INV-3", "C1", 40, 99_900, disputed=True).invoice("INV-4", "C1", 3, 50_000, currency="EUR")
              .invoice("INV-9", "C2", 10, 77_700))
    seed(engine, ledger)


@pytest.fixture
def warehouse_url(tmp_path):
    """SQLite only, for the slower portal tests (the app's own tests run on PostgreSQL too)."""
    return f"sqlite:///{tmp_path / 'warehouse.sqlite'}"
