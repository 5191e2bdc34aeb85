"""Whole IVR calls end to end: the serve app under uvicorn on loopback, and the local Twilio-compatible server
playing Twilio's part (sandbox/twilio_calls.py: the call's requests signed with the account's auth token, its TwiML
read verb by verb, each Gather answered with the caller's next keys); the pay link it texts goes out through the
same server's REST API with the real twilio client."""

from __future__ import annotations

import pytest
from selfservice_cases import (
    ACCOUNT,
    AFTER_HOURS,
    BETA,
    COMPANY,
    DESK_NUMBER,
    GATEWAY,
    NOBODY,
    PORTAL,
    TODAY,
    TOKEN,
    rows,
    seed_ivr_world,
    webhooks,
)

from sandbox.loopback import served
from sandbox.twilio_api import TwilioTestServer
from tasks.portal.app import create_app

pytestmark = pytest.mark.parametrize("warehouse_url", ["sqlite"], indirect=True)


@pytest.fixture
def twilio(tmp_path):
    with TwilioTestServer(tmp_path / "twilio", ACCOUNT, TOKEN) as server:
        yield server


def voice_url(warehouse, twilio, **hooks):
    """The serve app on loopback; its "A call comes in" URL."""
    seed_ivr_world(warehouse)
    return served(lambda base: create_app(PORTAL, GATEWAY, COMPANY, warehouse, today=lambda: TODAY,
                                          twilio=webhooks(base, twilio_api=twilio.base_url, **hooks)))


def test_a_customer_calls_hears_the_past_due_amount_and_gets_a_pay_link_by_text(warehouse, twilio):
    with voice_url(warehouse, twilio) as base:
        call = twilio.place_inbound_call(f"{base}/twilio/voice", BETA, keys=["1", "4", "1"])
    assert [status for _, status in call.requests] == [200] * 4
    assert call.said[0].text == "Welcome to Northwind Components Ltd, accounts receivable."
    assert "The amount past due is 777 US dollars." in [s.text for s in call.said]
    assert "We have sent a pay link by text message to the number you are calling from." in [s.text for s in call.said]
    # no more keys: the Gather timed out
    assert call.said[-1].text == "Thank you for calling. Goodbye." and call.hung_up
    assert {s.language for s in call.said} == {"en-US"}
    [text] = twilio.requests
    assert (text.kind, text.to) == ("sms", BETA) and "/p/" in text.body
    assert rows(warehouse, "SELECT turn, choice FROM ivr_call_steps WHERE call_sid = :s ORDER BY turn",
                s=call.call_sid) == [(0, "caller ID"), (1, "menu 1: past due"), (2, "menu 4: send"), (3, "send 1")]


def test_after_hours_a_voicemail_reaches_the_collectors_worklist_with_twilios_transcript(warehouse, twilio):
    with voice_url(warehouse, twilio, now=AFTER_HOURS) as base:
        call = twilio.place_inbound_call(f"{base}/twilio/voice", BETA, keys=["0"],
                                         voicemail_transcript="Please call me about INV-9.")
    assert [status for _, status in call.requests] == [200] * 4  # call, key 0, the recording, its transcription
    assert call.recordings and call.dialled == []
    [(collector, kind, detail)] = rows(warehouse, "SELECT collector, kind, detail FROM collector_worklist")
    assert (collector, kind) == ("Bo Chen", "ivr_voicemail") and 'transcript "Please call me about INV-9."' in detail
    assert call.said[-2].text == "Thank you. Your account manager will get your message."


def test_an_unknown_caller_with_three_wrong_account_numbers_is_put_through_to_the_desk(warehouse, twilio):
    with voice_url(warehouse, twilio) as base:
        call = twilio.place_inbound_call(f"{base}/twilio/voice", NOBODY, keys=["77", "88", "99"])
    assert call.dialled == [DESK_NUMBER]
    assert not any("Beta" in s.text or "dollar" in s.text for s in call.said)


def test_a_call_signed_with_another_accounts_token_is_refused_at_once(warehouse, tmp_path):
    with TwilioTestServer(tmp_path / "impostor", ACCOUNT, "another-accounts-token") as impostor:
        with voice_url(warehouse, impostor) as base:
            call = impostor.place_inbound_call(f"{base}/twilio/voice", BETA, keys=["1"])
    assert call.requests == [(f"{base}/twilio/voice", 403)] and call.said == []
    assert rows(warehouse, "SELECT COUNT(*) FROM ivr_calls") == [(0,)]
