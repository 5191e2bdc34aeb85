"""Collectors' calls: started once from the call list (the real twilio client against the local Twilio-compatible
server), never to a number that opted out of calls or outside the contact's hours, and Twilio's side of the call
(bridge, consent, recording, transcript, outcome, status) answered by the serve app with requests signed as Twilio
signs them (SQLite and PostgreSQL: the SQL is new)."""

from __future__ import annotations

import dataclasses
import json
import uuid
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from selfservice_cases import (
    ACCOUNT,
    ACME,
    BETA,
    COLLECTOR_LINES,
    COMPANY,
    DESK_NUMBER,
    GATEWAY,
    PORTAL,
    PUBLIC,
    TODAY,
    TOKEN,
    post,
    rows,
    seed_world,
    webhooks,
)
from starlette.testclient import TestClient

from blocks.warehouse import ArWarehouse
from sandbox.twilio_api import TwilioTestServer
from tasks.portal.app import create_app
from tasks.selfservice.calls import CallRefused, start_call

WORKDAY_10AM = datetime(TODAY.year, TODAY.month, TODAY.day, 10, tzinfo=ZoneInfo(COMPANY.time_zone))
LATE_EVENING = WORKDAY_10AM.replace(hour=22)
ANN = COLLECTOR_LINES["Ann Lee"]


@pytest.fixture
def world(warehouse, tmp_path):
    seed_world(warehouse)
    with TwilioTestServer(tmp_path / "twilio", ACCOUNT, TOKEN) as twilio:
        yield twilio, webhooks(PUBLIC, twilio.base_url)


def calling(warehouse, hooks, now=WORKDAY_10AM, collector="Ann Lee", customer="C1"):
    return start_call(warehouse, hooks.phone, COMPANY, PUBLIC, collector, customer, now=now)


def client(warehouse, hooks) -> TestClient:
    return TestClient(create_app(PORTAL, GATEWAY, COMPANY, warehouse, today=lambda: TODAY, twilio=hooks))


def calls(warehouse) -> list[tuple]:
    return rows(warehouse, "SELECT collector, collector_line, customer_id, number, status FROM collector_calls")


def test_a_call_rings_the_collector_once_and_points_twilio_at_the_bridge(world, warehouse):
    twilio, hooks = world
    started = calling(warehouse, hooks)
    assert (started.collector_line, started.target.number, started.already) == (ANN, ACME, False)
    [request] = twilio.requests
    assert (request.kind, request.to, request.from_) == ("voice", ANN, DESK_NUMBER)
    assert request.url == f"{PUBLIC}/twilio/call/bridge?call={started.call_id}"
    assert request.params["StatusCallback"] == f"{PUBLIC}/twilio/call/status?call={started.call_id}"
    assert calls(warehouse) == [("Ann Lee", ANN, "C1", ACME, "queued")]
    assert rows(warehouse, "SELECT call_sid FROM collector_calls") == [(request.sid,)]

    again = calling(warehouse, hooks)  # a double click while the first call rings
    assert (again.call_id, again.already, again.call_sid) == (started.call_id, True, request.sid)
    assert len(twilio.requests) == 1 and len(calls(warehouse)) == 1


def test_after_a_call_ends_the_next_one_rings_again(world, warehouse):
    twilio, hooks = world
    first = calling(warehouse, hooks)
    with client(warehouse, hooks) as http:
        post(http, f"/twilio/call/status?call={first.call_id}", {"CallSid": first.call_sid, "CallStatus": "completed"})
    second = calling(warehouse, hooks)
    assert second.call_id != first.call_id and not second.already and len(twilio.requests) == 2


@pytest.mark.parametrize("why", ["late evening", "opted out of calls", "ledger opt-out"])
def test_no_call_to_a_number_that_opted_out_or_outside_the_contacts_hours(world, warehouse, why):
    twilio, hooks = world
    now = LATE_EVENING if why == "late evening" else WORKDAY_10AM
    with warehouse.begin() as conn:
        if why == "opted out of calls":
            conn.execute(sa.text("INSERT INTO channel_opt_outs (channel, address, reason, recorded_at) "
                                 "VALUES ('voice', :a, 'asked on a call', '2026-11-20 10:00:00')"), {"a": ACME})
        if why == "ledger opt-out":
            conn.execute(sa.text("UPDATE contacts SET opt_out_voice = :t WHERE customer_id = 'C1'"), {"t": True})
    with pytest.raises(CallRefused) as refused:
        calling(warehouse, hooks, now=now)
    expected = {"late evening": "outside the contact's hours (Mon 23:00 America/New_York)",  # the contact's zone
                "opted out of calls": "the number opted out of voice (asked on a call)",
                "ledger opt-out": "the ledger marks the contact opted out of voice"}[why]
    assert expected in str(refused.value) and ACME not in str(refused.value)  # the number masked
    assert twilio.requests == [] and calls(warehouse) == []


def test_no_line_for_the_collector_or_twilio_refusing_rings_nobody_and_says_why(world, warehouse):
    twilio, hooks = world
    policy = hooks.phone.dunning_policy.model_copy(update={"ar_phone": "", "collector_phones": {}})
    lineless = dataclasses.replace(hooks, phone=hooks.phone.model_copy(update={"dunning_policy": policy}))
    with pytest.raises(CallRefused, match="no line to ring for Ann Lee"):
        calling(warehouse, lineless)
    assert twilio.requests == [] and calls(warehouse) == []

    twilio.opted_out.add(ANN)
    with pytest.raises(CallRefused, match="Twilio refused the call: 21610"):
        calling(warehouse, hooks)
    assert calls(warehouse) == [("Ann Lee", ANN, "C1", ACME, "failed")]
    twilio.opted_out.clear()
    assert not calling(warehouse, hooks).already  # a refused call does not block the next one

    unreachable = webhooks(PUBLIC)  # its Twilio at a closed port
    with pytest.raises(CallRefused, match="Twilio could not be reached: ConnectionError") as refused:
        calling(warehouse, unreachable, customer="C2", collector="Bo Chen")
    assert TOKEN not in str(refused.value)
    assert ("Bo Chen", COLLECTOR_LINES["Bo Chen"], "C2", BETA, "failed") in calls(warehouse)


def test_the_bridge_announces_the_customer_and_records_the_customer_only_after_the_consent(world, warehouse):
    _, hooks = world
    call_id = calling(warehouse, hooks).call_id
    with client(warehouse, hooks) as http:
        bridge = ET.fromstring(post(http, f"/twilio/call/bridge?call={call_id}", {"CallSid": "CA1"}).text)
        consent = ET.fromstring(post(http, f"/twilio/call/consent?call={call_id}", {"CallSid": "CA2"}).text)
    assert bridge.find("Say").text == "Connecting you to Acme GmbH, Pat Doe0."
    dial = bridge.find("Dial")
    assert dial.get("record") == "record-from-answer-dual" and dial.get("callerId") == DESK_NUMBER
    assert dial.get("recordingStatusCallback") == f"{PUBLIC}/twilio/call/recording?call={call_id}"
    assert dial.get("action") == f"{PUBLIC}/twilio/call/outcome?call={call_id}"
    number = dial.find("Number")
    assert number.text == ACME and number.get("url") == f"{PUBLIC}/twilio/call/consent?call={call_id}"
    transcription = bridge.find("Start/Transcription")
    assert transcription.get("statusCallbackUrl") == f"{PUBLIC}/twilio/call/transcript?call={call_id}"
    assert "is recorded" in consent.find("Say").text and "Northwind Components Ltd" in consent.find("Say").text


def test_without_recording_there_is_no_consent_recording_or_transcription(world, warehouse):
    _, hooks = world
    unrecorded = dataclasses.replace(hooks, phone=hooks.phone.model_copy(update={"record_collector_calls": False}))
    call_id = calling(warehouse, unrecorded).call_id
    with client(warehouse, unrecorded) as http:
        bridge = ET.fromstring(post(http, f"/twilio/call/bridge?call={call_id}", {"CallSid": "CA1"}).text)
    dial = bridge.find("Dial")
    assert dial.get("record") is None and dial.find("Number").get("url") is None
    assert bridge.find("Start") is None and dial.find("Number").text == ACME


def test_recording_transcript_and_keyed_outcome_land_on_the_customers_history(world, warehouse):
    _, hooks = world
    call_id = calling(warehouse, hooks).call_id
    path = f"/twilio/call/{{}}?call={call_id}"

    def utterance(track: str, text: str, seq: int, final: str = "true") -> dict:
        return {"CallSid": "CA1", "TranscriptionSid": "GT1", "TranscriptionEvent": "transcription-content",
                "Track": track, "Final": final, "SequenceId": str(seq),
                "TranscriptionData": json.dumps({"transcript": text, "confidence": 0.9})}

    with client(warehouse, hooks) as http:
        post(http, path.format("transcript"), utterance("outbound_track", "Hello, accounts pay", 1, "false"))
        post(http, path.format("transcript"), utterance("outbound_track", "Hello, accounts payable.", 2))
        post(http, path.format("transcript"), utterance("inbound_track", "About invoice INV-1.", 3))
        post(http, path.format("recording"), {"CallSid": "CA1", "RecordingSid": "RE1", "RecordingStatus": "completed",
                                              "RecordingUrl": "https://api.twilio.com/rec/RE1",
                                              "RecordingDuration": "42"})
        asked = ET.fromstring(post(http, path.format("outcome"), {"CallSid": "CA1", "DialCallSid": "CA9",
                                                                   "DialCallStatus": "completed"}).text)
        wrong_key = ET.fromstring(post(http, path.format("outcome"), {"CallSid": "CA1", "Digits": "9"}).text)
        keyed = ET.fromstring(post(http, path.format("outcome"), {"CallSid": "CA1", "Digits": "2"}).text)
    assert "2 for a promise to pay" in asked.find("Gather/Say").text
    assert wrong_key.find("Say").text == "That is not an outcome." and wrong_key.find("Gather") is not None
    assert keyed.find("Say").text == "Recorded: promise to pay. Goodbye."
    [history] = rows(warehouse, "SELECT dial_status, recording_sid, recording_url, recording_seconds, transcript, "
                                "outcome, outcome_by FROM collector_calls WHERE customer_id = 'C1'")
    assert history == ("completed", "RE1", "https://api.twilio.com/rec/RE1", 42,
                       "Customer: Hello, accounts payable.\nCollector: About invoice INV-1.", "promise", "Ann Lee")
    [(collector, kind, detail)] = rows(warehouse, "SELECT collector, kind, detail FROM collector_worklist")
    assert (collector, kind) == ("Ann Lee", "call_promise") and "promise to pay to record against" in detail


def test_a_customer_leg_that_fails_counts_against_the_number(world, warehouse):
    _, hooks = world
    call_id = calling(warehouse, hooks).call_id
    with client(warehouse, hooks) as http:
        said = ET.fromstring(post(http, f"/twilio/call/outcome?call={call_id}",
                                  {"CallSid": "CA1", "DialCallSid": "CA9", "DialCallStatus": "failed"}).text)
    assert said.find("Say").text == "The call to Acme GmbH did not connect: failed. Goodbye."
    assert said.find("Gather") is None
    assert rows(warehouse, "SELECT provider_id, channel, address FROM phone_delivery_failures") == [
        ("CA9", "voice", ACME)]


def test_an_ended_call_keeps_its_status_and_unsigned_requests_change_nothing(world, warehouse):
    _, hooks = world
    call_id = calling(warehouse, hooks).call_id
    with client(warehouse, hooks) as http:
        for n, status in enumerate(("ringing", "in-progress", "completed", "ringing")):
            assert post(http, f"/twilio/call/status?call={call_id}", {"CallSid": "CA1", "CallStatus": status,
                                                                      "SequenceNumber": str(n)}).status_code == 200
        refused = post(http, f"/twilio/call/outcome?call={call_id}", {"CallSid": "CA1", "Digits": "4"},
                       header="forged")
    assert refused.status_code == 403
    assert rows(warehouse, "SELECT status, outcome FROM collector_calls") == [("completed", None)]


def transcribe_for_test(recording_url: str, auth: tuple[str, str]) -> str:
    """A pluggable engine as a phone desk names it ("module:function"): here it reports what it was given."""
    return f"engine heard {recording_url} as {auth[0]}"


def failing_transcriber(recording_url: str, auth: tuple[str, str]) -> str:
    raise RuntimeError(f"engine down, was given {auth}")


def test_a_failing_engine_keeps_the_recording_and_never_logs_the_credentials(world, warehouse, caplog):
    _, hooks = world
    engine = dataclasses.replace(hooks, phone=hooks.phone.model_copy(
        update={"transcriber": "test_collector_calls:failing_transcriber"}))
    call_id = calling(warehouse, engine).call_id
    with client(warehouse, engine) as http:
        assert post(http, f"/twilio/call/recording?call={call_id}", {
            "CallSid": "CA1", "RecordingSid": "RE1", "RecordingUrl": "https://api.twilio.com/rec/RE1",
            "RecordingStatus": "completed"}).status_code == 200
    assert rows(warehouse, "SELECT recording_sid, transcript FROM collector_calls") == [("RE1", None)]
    assert "failed for call" in caplog.text and "RuntimeError" in caplog.text and TOKEN not in caplog.text


def test_a_pluggable_engine_transcribes_the_recording(world, warehouse):
    _, hooks = world
    engine = dataclasses.replace(hooks, phone=hooks.phone.model_copy(
        update={"transcriber": "test_collector_calls:transcribe_for_test"}))
    call_id = calling(warehouse, engine).call_id
    with client(warehouse, engine) as http:
        bridge = ET.fromstring(post(http, f"/twilio/call/bridge?call={call_id}", {"CallSid": "CA1"}).text)
        post(http, f"/twilio/call/recording?call={call_id}", {"CallSid": "CA1", "RecordingSid": "RE1",
                                                              "RecordingUrl": "https://api.twilio.com/rec/RE1",
                                                              "RecordingStatus": "completed"})
    assert bridge.find("Start") is None and bridge.find("Dial").get("record") == "record-from-answer-dual"
    assert rows(warehouse, "SELECT transcript FROM collector_calls") == [
        (f"engine heard https://api.twilio.com/rec/RE1 as {ACCOUNT}",)]


@pytest.mark.parametrize("warehouse_url", ["sqlite"], indirect=True)
def test_the_cli_starts_a_call_and_sets_its_outcome_afterwards(prefect_api, world, warehouse, warehouse_url, capsys):
    from flows.cli import main

    twilio, hooks = world
    hour = datetime.now(UTC).hour  # clocks on which it is noon now: the contact's hours allow a call
    zone = f"Etc/GMT{'+' if hour > 12 else '-'}{abs(12 - hour)}" if hour != 12 else "Etc/GMT"
    with warehouse.begin() as conn:  # the contact's own zone (from the number) comes before the company's
        for table in ("contacts", "contact_profiles"):
            conn.execute(sa.text(f"UPDATE {table} SET time_zone = :z"), {"z": zone})
    name = f"calls-{uuid.uuid4().hex[:8]}"
    for block in (hooks.phone, COMPANY.model_copy(update={"time_zone": zone}), ArWarehouse(url=warehouse_url), PORTAL):
        block.save(name, overwrite=True)
    blocks = ["--phone-desk", f"arpilot-phone-desk/{name}", "--company", f"arpilot-company-profile/{name}",
              "--warehouse", f"arpilot-ar-warehouse/{name}", "--portal", f"arpilot-pay-portal/{name}"]

    assert main(["call", "start", "--collector", "Ann Lee", "--customer", "C1", *blocks]) == 0
    out = capsys.readouterr().out
    [(call_id,)] = rows(warehouse, "SELECT call_id FROM collector_calls")
    assert f"Call {call_id}: ringing +13*****0111, then Acme GmbH (Pat Doe0, +12*****0000)" in out
    assert [r.to for r in twilio.requests] == [ANN]

    outcome = ["call", "outcome", "--call", call_id, "--by", "Ann Lee", "--warehouse", f"arpilot-ar-warehouse/{name}"]
    assert main([*outcome, "--outcome", "wrong_number", "--note", "a dental practice answered"]) == 0
    assert rows(warehouse, "SELECT outcome, outcome_by, note FROM collector_calls") == [
        ("wrong_number", "Ann Lee", "a dental practice answered")]
    assert rows(warehouse, "SELECT address, what FROM phone_reach_failures") == [
        (ACME, "a call by Ann Lee reached a wrong number")]  # the contact checks see it
    assert main(["call", "outcome", "--call", "call-unknown", "--by", "Ann Lee", "--outcome", "reached",
                 "--warehouse", f"arpilot-ar-warehouse/{name}"]) == 1
    assert "Not recorded: no call call-unknown" in capsys.readouterr().err

    with warehouse.begin() as conn:
        conn.execute(sa.text("INSERT INTO channel_opt_outs (channel, address, reason, recorded_at) "
                             "VALUES ('voice', :a, 'asked not to be called', '2026-11-20 10:00:00')"), {"a": ACME})
    assert main(["call", "start", "--collector", "Ann Lee", "--customer", "C1", *blocks]) == 1
    assert "Not called: +12*****0000 not called: the number opted out of voice" in capsys.readouterr().err
    assert len(twilio.requests) == 1
