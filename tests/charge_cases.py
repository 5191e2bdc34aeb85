"""Autopay test cases: a warehouse, the local Stripe with the real stripe client, and blocks naming them."""


from __future__ import annotations

import uuid
from datetime import date
from types import SimpleNamespace

import pandas as pd
import pytest
from dunning_cases import COMPANY, TODAY
from pydantic import SecretStr

from blocks.autopay_policy import AutopayPolicy
from blocks.payment_gateway import PaymentGateway
from blocks.warehouse import ArWarehouse
from flows.charges import autopay_charges
from sandbox.stripe_api import SANDBOX_SECRET_KEY, SUCCEEDING_IBAN, StripeTestServer
from tasks import warehouse as wh

CAP = 1_000_000
# What does not depend on the warehouse's database runs on SQLite only: the suite keeps to its time on two cores.
SQLITE_ONLY = pytest.mark.parametrize("warehouse_url", ["sqlite"], indirect=True)


@pytest.fixture
def stripe_server():
    with StripeTestServer(replay_idempotency_keys=False) as server:  # the guarantee must not lean on the gateway
        yield server


@pytest.fixture
def env(prefect_api, warehouse, warehouse_url, tmp_path, stripe_server):
    name = f"c-{uuid.uuid4().hex[:8]}"
    gateway = PaymentGateway(secret_key=SecretStr(SANDBOX_SECRET_KEY), publishable_key="pk_test_arpilot",
                             api_base=stripe_server.base_url, timeout_seconds=5)
    policy = AutopayPolicy(export_dir=str(tmp_path / "autopay"), gateway_backoff_seconds=0,
                           lost_answer_grace_seconds=0)
    for block in (COMPANY, ArWarehouse(url=warehouse_url), gateway, policy):
        block.save(name, overwrite=True)
    params = {"warehouse": f"arpilot-ar-warehouse/{name}", "company": f"arpilot-company-profile/{name}",
              "gateway": f"arpilot-payment-gateway/{name}", "autopay_policy": f"arpilot-autopay-policy/{name}"}
    return SimpleNamespace(engine=warehouse, server=stripe_server, client=gateway.client(), policy=policy,
                           params=params, tmp=tmp_path)


def card(client, number: str = "4242424242424242") -> str:
    return client.v1.payment_methods.create(
        params={"type": "card", "card": {"number": number, "exp_month": 12, "exp_year": 2030, "cvc": "123"}}).id


def sepa(client, iban: str = SUCCEEDING_IBAN) -> str:
    return client.v1.payment_methods.create(params={"type": "sepa_debit", "sepa_debit": {"iban": iban},
                                                    "billing_details": {"name": "Acme GmbH"}}).id


def run(env, day: date = TODAY):
    return autopay_charges(charge_day=day, **env.params)


def intents(env) -> list:
    """Every PaymentIntent the gateway holds: the money actually asked for."""
    return list(env.client.v1.payment_intents.list(params={"limit": 100}).auto_paging_iter())


def read(engine, sql: str, **params) -> pd.DataFrame:
    with engine.connect() as conn:
        return wh.query_frame(conn, sql, params)


