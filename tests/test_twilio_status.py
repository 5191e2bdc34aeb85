"""Twilio's status callbacks update the outbox row their URL or Twilio's sid names; an undelivered text or a failed call counts
against the number like a hard bounce against an email (SQLite and PostgreSQL: the SQL is new)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from selfservice_cases import ACME, BETA, post, rows, seed_world, serve

from tasks.dunning import outbox as dunning_outbox

STATUS = "/twilio/status"
SMS_SID, CALL_SID = "SM" + "d" * 32, "CA" + "e" * 32


@pytest.fixture
def http(warehouse):
    seed_world(warehouse)
    with warehouse.begin() as conn:
        for key, customer, channel, sid in (("C1|USD|15|2026-11-23|sms", "C1", "sms", SMS_SID),
                                            ("C2|USD|30|2026-11-23|voice", "C2", "voice", CALL_SID)):
            conn.execute(sa.text(
                "INSERT INTO dunning_outbox (outbox_key, customer_id, currency, step, channel, planned_on, bucket, "
                "amount_cents, invoices, recipients, status, attempts, provider_id, run_id, owner, lease_until, "
                "reserved_at, completed_at) VALUES (:k, :c, 'USD', 15, :ch, '2026-11-23', '1-30', 100, 1, :to, "
                "'sent', 1, :sid, 'run-1', 'host:1:0', '2026-11-23 10:00:00', '2026-11-23 10:00:00', "
                "'2026-11-23 10:00:01')"),
                {"k": key, "c": customer, "ch": channel, "sid": sid, "to": ACME if channel == "sms" else BETA})
    with serve(warehouse) as client:
        yield client


def outbox(engine) -> dict[str, tuple]:
    return {r[0]: r[1:] for r in rows(engine, "SELECT provider_id, status, delivery_status, reason "
                                               "FROM dunning_outbox")}


def sms_status(status: str, code: str | None = None) -> dict:
    return {"MessageSid": SMS_SID, "MessageStatus": status, "To": ACME, "From": "+13125550100",
            "AccountSid": "AC" + "1" * 32, **({"ErrorCode": code} if code else {})}


def test_delivered_is_recorded_and_the_send_stays_sent(http, warehouse):
    for status in ("sent", "delivered"):
        assert post(http, STATUS, sms_status(status)).status_code == 200
    assert outbox(warehouse)[SMS_SID] == ("sent", "delivered", None)
    assert rows(warehouse, "SELECT * FROM phone_delivery_failures") == []


def test_a_late_sent_after_delivered_does_not_go_back(http, warehouse):
    post(http, STATUS, sms_status("delivered"))
    post(http, STATUS, sms_status("sent"))
    assert outbox(warehouse)[SMS_SID][1] == "delivered"


@pytest.mark.parametrize(("status", "code"), [("undelivered", "30003"), ("failed", "30006"), ("undelivered", None)])
def test_an_undelivered_text_keeps_the_carriers_code_and_counts_against_the_number(http, warehouse, status, code):
    assert post(http, STATUS, sms_status(status, code)).status_code == 200
    reason = f"{status} (carrier error {code})" if code else status
    assert outbox(warehouse)[SMS_SID] == ("sent", status, reason)
    assert rows(warehouse, "SELECT provider_id, channel, address, error_code, outbox_key FROM "
                           "phone_delivery_failures") == [(SMS_SID, "sms", ACME, code, "C1|USD|15|2026-11-23|sms")]


def test_call_statuses(http, warehouse):
    call = {"CallSid": CALL_SID, "To": BETA, "AccountSid": "AC" + "1" * 32}
    assert post(http, STATUS, {**call, "CallStatus": "no-answer"}).status_code == 200
    assert outbox(warehouse)[CALL_SID] == ("sent", "no-answer", None)
    assert post(http, STATUS, {**call, "CallStatus": "failed", "ErrorCode": "13224"}).status_code == 200
    assert outbox(warehouse)[CALL_SID] == ("sent", "failed", "failed (carrier error 13224)")
    assert rows(warehouse, "SELECT channel, address FROM phone_delivery_failures") == [("voice", BETA)]


def test_a_sid_the_outbox_does_not_know_changes_nothing(http, warehouse):
    before = outbox(warehouse)
    unknown = {**sms_status("undelivered", "30003"), "MessageSid": "SM" + "9" * 32}
    assert post(http, STATUS, unknown).status_code == 200
    assert outbox(warehouse) == before and rows(warehouse, "SELECT * FROM phone_delivery_failures") == []


def test_a_report_that_comes_before_the_send_recorded_the_sid_finds_its_row_by_the_outbox_key(http, warehouse):
    key, sid = "C2|USD|30|2026-11-23|sms", "SM" + "f" * 32
    with warehouse.begin() as conn:  # Twilio has the text; the send has not recorded its answer yet
        conn.execute(sa.text("UPDATE dunning_outbox SET outbox_key = :k, channel = 'sms', status = 'sending', "
                             "provider_id = NULL, completed_at = NULL WHERE provider_id = :c"), {"k": key, "c": CALL_SID})
    report = {**sms_status("undelivered", "30005"), "MessageSid": sid, "To": BETA}
    assert post(http, f"{STATUS}?outbox=C2%7CUSD%7C30%7C2026-11-23%7Csms", report).status_code == 200
    with warehouse.begin() as conn:
        dunning_outbox.complete(conn, key, "sent", 1, sid)
    assert outbox(warehouse)[sid] == ("sent", "undelivered", "undelivered (carrier error 30005)")
    assert rows(warehouse, "SELECT provider_id, address, outbox_key FROM phone_delivery_failures") == [(sid, BETA, key)]
