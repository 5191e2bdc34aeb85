"""A collector's call end to end: the serve app under uvicorn on loopback and the local Twilio-compatible server
playing Twilio's part (sandbox/twilio_calls.py): it rings the collector's line, fetches the bridge's TwiML, plays the
consent to the customer before connecting them, transcribes the call in real time, posts the recording, and the
collector keys the outcome. Calls that must not happen never reach the server."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from selfservice_cases import (
    ACCOUNT,
    ACME,
    COLLECTOR_LINES,
    COMPANY,
    GATEWAY,
    PORTAL,
    TODAY,
    TOKEN,
    rows,
    seed_world,
    webhooks,
)

from sandbox.loopback import served
from sandbox.twilio_api import TwilioTestServer
from tasks.portal.app import create_app
from tasks.selfservice.calls import CallRefused, start_call

pytestmark = pytest.mark.parametrize("warehouse_url", ["sqlite"], indirect=True)
WORKDAY_10AM = datetime(TODAY.year, TODAY.month, TODAY.day, 10, tzinfo=ZoneInfo(COMPANY.time_zone))
CONVERSATION = [("outbound_track", "Accounts payable, Pat speaking."),
                ("inbound_track", "Hello Pat, it is Ann from Northwind about invoice INV-1."),
                ("outbound_track", "We will pay it on Friday.")]


@pytest.fixture
def phone(warehouse, tmp_path):
    """The serve app on loopback (its address is the public one Twilio calls) and the sandbox Twilio."""
    seed_world(warehouse)
    with TwilioTestServer(tmp_path / "twilio", ACCOUNT, TOKEN) as twilio:
        hooks = {}

        def app(base: str):
            hooks["webhooks"] = webhooks(base, twilio.base_url)
            return create_app(PORTAL, GATEWAY, COMPANY, warehouse, today=lambda: TODAY, twilio=hooks["webhooks"])

        with served(app) as base:
            yield twilio, hooks["webhooks"], base


def test_the_collector_is_rung_the_customer_hears_the_consent_first_and_the_call_lands_on_the_history(phone,
                                                                                                    warehouse):
    twilio, hooks, base = phone
    twilio.answer_placed_calls(keys=["2"], conversation=CONVERSATION)
    started = start_call(warehouse, hooks.phone, COMPANY, base, "Ann Lee", "C1", now=WORKDAY_10AM)
    [call] = twilio.placed_calls()

    assert [r.to for r in twilio.requests] == [COLLECTOR_LINES["Ann Lee"]]  # the collector's line rings first
    assert call.said[0].text == "Connecting you to Acme GmbH, Pat Doe0."
    assert call.dialled == [ACME]
    assert "recorded and transcribed" in call.whispered[0].text  # heard by the customer alone
    assert call.said[-1].text == "Recorded: promise to pay. Goodbye."
    assert all(status == 200 for _, status in call.requests), call.requests
    paths = [url.removeprefix(base).split("?")[0] for url, _ in call.requests]
    consent = paths.index("/twilio/call/consent")
    first_words = paths.index("/twilio/call/transcript", paths.index("/twilio/call/transcript") + 1)  # after "started"
    assert consent < first_words < paths.index("/twilio/call/recording")  # nothing of theirs taken before consent

    [history] = rows(warehouse, "SELECT call_id, call_sid, status, dial_status, recording_sid, recording_seconds, "
                                "transcript, outcome, outcome_by FROM collector_calls WHERE customer_id = 'C1'")
    assert history == (started.call_id, call.call_sid, "completed", "completed", call.recordings[0], 12,
                       "Customer: Accounts payable, Pat speaking.\n"
                       "Collector: Hello Pat, it is Ann from Northwind about invoice INV-1.\n"
                       "Customer: We will pay it on Friday.", "promise", "Ann Lee")
    assert rows(warehouse, "SELECT collector, kind FROM collector_worklist") == [("Ann Lee", "call_promise")]


def test_a_customer_who_does_not_answer_leaves_no_recording_and_no_outcome(phone, warehouse):
    twilio, hooks, base = phone
    twilio.answer_placed_calls(dial_status="no-answer", conversation=CONVERSATION)
    start_call(warehouse, hooks.phone, COMPANY, base, "Ann Lee", "C1", now=WORKDAY_10AM)
    [call] = twilio.placed_calls()
    assert call.whispered == [] and call.recordings == []
    assert call.said[-1].text == "The call to Acme GmbH did not connect: no answer. Goodbye."
    assert rows(warehouse, "SELECT status, dial_status, recording_sid, transcript, outcome FROM collector_calls") == [
        ("completed", "no-answer", None, None, None)]


@pytest.mark.parametrize("why", ["outside the contact's hours (Mon 07:00 America/New_York)",  # 06:00 in Chicago
                                 "the number opted out of voice"])
def test_a_call_refused_reaches_nothing(phone, warehouse, why):
    twilio, hooks, base = phone
    twilio.answer_placed_calls(keys=["1"], conversation=CONVERSATION)
    now = WORKDAY_10AM.replace(hour=6) if why.startswith("outside") else WORKDAY_10AM
    if why.startswith("the number"):
        with warehouse.begin() as conn:
            conn.execute(sa.text("INSERT INTO channel_opt_outs (channel, address, reason, recorded_at) "
                                 "VALUES ('voice', :a, 'asked on a call', '2026-11-20 10:00:00')"), {"a": ACME})
    with pytest.raises(CallRefused) as refused:
        start_call(warehouse, hooks.phone, COMPANY, base, "Ann Lee", "C1", now=now)
    assert why in str(refused.value)
    assert twilio.requests == [] and twilio.placed_calls() == []
    assert rows(warehouse, "SELECT COUNT(*) FROM collector_calls") == [(0,)]
