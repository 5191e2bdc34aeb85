"""An SMS conversation end to end: the serve app under uvicorn on loopback, and the local Twilio-compatible server
playing Twilio's part (each text posted to the webhook, signed with the account's auth token as Twilio signs)."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
from selfservice_cases import (
    BETA,
    COMPANY,
    GATEWAY,
    NOBODY,
    PORTAL,
    TODAY,
    TOKEN,
    counts,
    rows,
    seed_world,
    webhooks,
)

from sandbox.loopback import served
from sandbox.twilio_api import TwilioTestServer
from tasks.portal.app import create_app

pytestmark = pytest.mark.parametrize("warehouse_url", ["sqlite"], indirect=True)
SID = "AC" + "7" * 32


@pytest.fixture
def webhook(warehouse):
    """The serve app on a free loopback port; its SMS webhook's URL, as configured in Twilio."""
    seed_world(warehouse)
    with served(lambda base: create_app(PORTAL, GATEWAY, COMPANY, warehouse, today=lambda: TODAY,
                                        twilio=webhooks(base))) as base:
        yield f"{base}/twilio/sms"


def replies(twiml: str) -> list[str]:
    return [m.text for m in ET.fromstring(twiml).iter("Message")]


def test_a_customer_texts_back_and_forth(webhook, warehouse, tmp_path):
    with TwilioTestServer(tmp_path / "twilio", SID, TOKEN) as twilio:
        conversation = [(body, *twilio.send_inbound_sms(webhook, BETA, body))
                        for body in ("HELP", "BAL", "PROMISE 2026-12-15", "Paid", "STOP", "START")]
    assert [(body, status) for body, status, _ in conversation] == [(b, 200) for b, _, _ in conversation]
    said = {body: replies(twiml) for body, _, twiml in conversation}
    assert said["HELP"] == []  # Twilio answers HELP on this (long code) number
    assert said["BAL"] == ["Beta LLC: $777.00 open."]
    assert said["PROMISE 2026-12-15"] == ["Thank you. We noted your promise to pay $777.00 by 15 Dec 2026."]
    assert said["STOP"] == said["START"] == []  # and STOP and START
    assert sorted(r[0] for r in rows(warehouse, "SELECT command FROM sms_inbound")) == sorted(
        ["help", "balance", "promise", "paid", "stop", "start"])
    assert counts(warehouse)["promises"] == 1 and counts(warehouse)["collector_worklist"] == 1


def test_texts_signed_with_another_accounts_token_are_refused(webhook, warehouse, tmp_path):
    with TwilioTestServer(tmp_path / "twilio", SID, "another-accounts-token") as impostor:
        status, _ = impostor.send_inbound_sms(webhook, NOBODY, "STOP")
    assert status == 403 and counts(warehouse)["channel_opt_outs"] == 0
