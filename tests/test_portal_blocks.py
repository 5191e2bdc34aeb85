"""The portal's configuration through Prefect: the dunning policy points at a saved portal block, and the day's
portal payments reach the controller as an artifact."""

from __future__ import annotations

import asyncio
from datetime import date

import pytest
from portal_cases import COMPANY, KEY, PORTAL, TODAY, seed_customers, warehouse_url  # noqa: F401
from prefect import flow
from prefect.client.orchestration import get_client
from pydantic import SecretStr, ValidationError

from blocks import DEFAULT_PORTAL, load_block
from blocks.dunning_policy import DunningPolicy
from blocks.pay_portal import PayPortal
from tasks.charges.payments import GatewayPayment, record_payment
from tasks.dunning.messages import render
from tasks.portal.links import unseal
from tasks.portal.summary import publish_portal_payments


def test_a_policy_saved_with_a_portal_block_signs_its_links_with_that_blocks_key(prefect_api):
    from test_dunning_messages import message

    PORTAL.save("portal-test", overwrite=True)
    DunningPolicy(pay_portal=PayPortal.load("portal-test")).save("portal-test", overwrite=True)
    policy = load_block("arpilot-dunning-policy/portal-test")
    assert policy.pay_portal.signing_key.get_secret_value() == KEY
    assert "portal-signing-key" not in repr(policy) and "portal-signing-key" not in str(policy.model_dump())
    text = render(message(), COMPANY, policy).text
    [url] = [w for w in text.split() if "/p/" in w]
    assert unseal(url.rsplit("/", 1)[1], KEY, TODAY).customer_id == "C-7"
    assert DEFAULT_PORTAL == "arpilot-pay-portal/arpilot"


@pytest.mark.parametrize(("field", "value", "why"), [("base_url", "pay.example.com", "https://"),
                                                     ("signing_key", SecretStr("short"), "32 characters"),
                                                     ("link_lifetime_days", 0, "greater than or equal")])
def test_a_portal_block_refuses_what_would_make_links_unsafe_or_unreachable(field, value, why):
    with pytest.raises(ValidationError, match=why):
        PayPortal(**{"base_url": "https://pay.example.com", "signing_key": SecretStr(KEY), field: value})


def test_the_days_portal_payments_are_published_as_an_artifact(prefect_api, warehouse):
    seed_customers(warehouse)
    with warehouse.begin() as conn:
        record_payment(conn, GatewayPayment("pi_1", "portal", "C1", "USD", TODAY, "card", "4242",
                                            (("INV-1", 125_000),)))
        record_payment(conn, GatewayPayment("pi_2", "charge", "C2", "USD", TODAY, "card", "1111",
                                            (("INV-9", 77_700),)))

    @flow(name="portal-payments-test")
    def publish(day: date):
        return publish_portal_payments(warehouse, day)

    state = publish(TODAY, return_state=True)
    assert [r["Payment"] for r in state.result()] == ["ARP-pi_1"]

    async def artifact():
        async with get_client() as client:
            from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

            found = await client.read_artifacts(artifact_filter=ArtifactFilter(
                flow_run_id=ArtifactFilterFlowRunId(any_=[state.state_details.flow_run_id])))
            return found[0]

    published = asyncio.run(artifact())
    assert published.key == "portal-payments" and "$1,250.00" in published.description
    assert "Acme GmbH (C1)" in str(published.data) and "pi_2" not in str(published.data)


@pytest.mark.parametrize(("brand", "text"), [("#1f4e79", "#ffffff"), ("#ffd700", "#1a1a1a"), ("#fff", "#1a1a1a"),
                                             ("#000000", "#ffffff"), ("not-a-colour", "#ffffff")])
def test_the_portal_writes_on_the_brand_colour_in_whichever_of_black_or_white_reads_better(brand, text):
    from tasks.portal.pages import text_on

    assert text_on(brand) == text
