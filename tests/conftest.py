"""Shared fixtures: a real Prefect API, a real PostgreSQL server, and warehouses on both backends."""

from __future__ import annotations

import os

from flows.local_prefect import use_local_prefect

# The tests read runs, artifacts and the warehouse, never logs from the API: posting every log line of every flow
# (and of the flows they start in subprocesses) to the temporary API only costs the suite CPU.
os.environ["PREFECT_LOGGING_TO_API_ENABLED"] = "false"

# Prefect's state stays inside the checkout, also when pytest is run without `make test`.
use_local_prefect()

import pytest  # noqa: E402
from postgres_server import postgres_server, scratch_database  # noqa: E402
from prefect.testing.utilities import prefect_test_harness  # noqa: E402

from blocks.warehouse import create_warehouse_engine, migrate  # noqa: E402

# The longest modules start first, so the workers finish together instead of one running the last long module
# alone: crash tests, real `prefect server` installs and the Dask cluster.
LONGEST_FIRST = ("test_charges_crash", "test_dunning_crash", "test_production_install", "test_scale_out",
                 "test_alerts_live", "test_invoice_delivery_flow", "test_reports_flow")


def pytest_collection_modifyitems(items):
    rank = {name: n for n, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.module.__name__, len(rank)))


@pytest.fixture(scope="session")
def prefect_api():
    """A temporary Prefect server (SQLite) for the whole session."""
    with prefect_test_harness(server_startup_timeout=120):
        yield


@pytest.fixture(scope="session")
def postgres_url():
    with postgres_server() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def warehouse_url(request, tmp_path):
    """An empty warehouse database on each backend arpilot supports."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'warehouse.sqlite'}"
        return
    with scratch_database(request.getfixturevalue("postgres_url"), "wh") as url:
        yield url


@pytest.fixture
def warehouse(warehouse_url):
    """A migrated warehouse engine."""
    engine = create_warehouse_engine(warehouse_url)
    migrate(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def sandbox(tmp_path):
    """A real SMTP relay (with login) and a Twilio-compatible API on loopback, and the channel blocks for them."""
    from types import SimpleNamespace

    from pydantic import SecretStr

    from blocks.email_channel import EmailChannel
    from blocks.twilio_channel import TwilioChannel
    from sandbox.smtp_relay import CaptureSmtpServer
    from sandbox.twilio_api import TwilioTestServer

    sid, token = "AC" + "7" * 32, "twilio-test-token"
    with (CaptureSmtpServer(tmp_path / "mail", "relay-login", "relay-pw") as smtp,
          TwilioTestServer(tmp_path / "twilio", sid, token) as twilio):
        yield SimpleNamespace(
            smtp=smtp, twilio=twilio,
            email=EmailChannel(host=smtp.host, port=smtp.port, security="none", username="relay-login",
                               password=SecretStr("relay-pw"), from_address="ar@northwind.example",
                               from_name="Northwind AR"),
            phone=TwilioChannel(account_sid=sid, auth_token=SecretStr(token), from_number="+13125550100",
                                api_base_url=twilio.base_url))


@pytest.fixture
def ivr_twilio(tmp_path):
    """The local Twilio-compatible server behind the IVR's texts (tests/ivr_cases.py)."""
    from selfservice_cases import ACCOUNT, TOKEN

    from sandbox.twilio_api import TwilioTestServer

    with TwilioTestServer(tmp_path / "twilio", ACCOUNT, TOKEN) as server:
        yield server


@pytest.fixture
def ivr(warehouse, ivr_twilio):
    """The serve app with Twilio's webhooks over the IVR world (tests/selfservice_cases.py), as a test client."""
    from selfservice_cases import seed_ivr_world, serve, webhooks

    seed_ivr_world(warehouse)
    with serve(warehouse, hooks=webhooks(twilio_api=ivr_twilio.base_url)) as client:
        yield client
