"""The dunning flow on a real Prefect API, a real SMTP relay and the real twilio client against a local API:
who received what, what was held back and why, what a rerun does, and what a controller sees."""

from __future__ import annotations

import asyncio
import csv
import uuid
from types import SimpleNamespace

import pandas as pd
import pytest
from dunning_cases import COMPANY, TODAY, Ledger, at_local, delivered_keys, seed
from prefect import flow
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId, FlowRunFilter, FlowRunFilterId
from pydantic import SecretStr
from selfservice_cases import GATEWAY, PORTAL

from blocks.contact_policy import ContactPolicy
from blocks.dunning_policy import DunningPolicy
from blocks.phone_desk import PhoneDesk
from blocks.warehouse import ArWarehouse
from flows.dunning import DunningMisconfigured, dunning
from tasks import warehouse as wh
from tasks.contacts.checks import check_contacts, normalize_changed_contacts
from tasks.dunning.plan import Batch, make_batches
from tasks.dunning.planning import age_open_invoices, plan_day
from tasks.dunning.sending import send_batch, send_escalations

NOW = at_local(TODAY, 11, "America/Chicago")  # 12:00 in New York, 09:00 in Los Angeles, 17:00 in London


def ledger() -> Ledger:
    return (Ledger()
            .customer("C1", "Acme Corp", zone="America/New_York").invoice("I1", "C1", 1, 250_000)
            .customer("C2", "Bolt LLC", zone="America/Los_Angeles").invoice("I2", "C2", 16, 80_000)
            .customer("C3", "Crane Ltd", zone="Europe/London", collector="Bo Chan").invoice("I3", "C3", 31, 40_000)
            .customer("C4", "Delta Inc", zone="America/Chicago").invoice("I4", "C4", 46, 10_000)
            .customer("C5", "Echo Co", zone="America/New_York", collector="Bo Chan").invoice("I5", "C5", 61, 900_000)
            .customer("C6", "Fjord AS", zone="America/New_York").invoice("I6", "C6", 20, 50_000, disputed=True)
            .customer("C7", "Gamma GmbH", zone="America/New_York").invoice("I7", "C7", 20, 30_000, currency="EUR")
            .invoice("I8", "C7", 25, 20_000, currency="EUR")
            .customer("C8", "{{ 7*7 }} <script>x</script>", zone="America/New_York").invoice("I9", "C8", 2, 5_000))


@flow
def contact_stage(store: ArWarehouse, policy: ContactPolicy):
    normalize_changed_contacts(store, COMPANY.time_zone)
    check_contacts(store, policy, "arpilot-contact-policy/test", TODAY, str(uuid.uuid4()), "en_US")


@pytest.fixture
def env(prefect_api, warehouse, warehouse_url, tmp_path, sandbox):
    name = f"d-{uuid.uuid4().hex[:8]}"
    store = ArWarehouse(url=warehouse_url)
    contacts = ContactPolicy(output_dir=str(tmp_path / "contacts"))
    policy = DunningPolicy(output_dir=str(tmp_path / "dunning"), escalation_to=["ar-manager@northwind.example"],
                           retry_backoff_seconds=[0], batch_size=3, collector_phones={"Ann Lee": "+1 312 555 0142"})
    for block in (COMPANY, store, contacts, policy, sandbox.email, sandbox.phone):
        block.save(name, overwrite=True)
    seed(warehouse, ledger())
    contact_stage(store, contacts)
    params = {"warehouse": f"arpilot-ar-warehouse/{name}", "company": f"arpilot-company-profile/{name}",
              "dunning_policy": f"arpilot-dunning-policy/{name}", "contact_policy": f"arpilot-contact-policy/{name}",
              "email_channel": f"arpilot-email-channel/{name}", "twilio_channel": f"arpilot-twilio-channel/{name}"}
    return SimpleNamespace(name=name, params=params, engine=warehouse, store=store, policy=policy, sandbox=sandbox,
                           tmp=tmp_path)


def read(engine, sql: str, **params) -> pd.DataFrame:
    with engine.connect() as conn:
        return wh.query_frame(conn, sql, params)


def mails_by_reference(sandbox) -> dict[str, object]:
    """Received mail by the outbox row it delivers (an escalation digest delivers several)."""
    return {key: m for m in sandbox.smtp.messages for key in delivered_keys(m.message)}


async def _artifacts(flow_run_id):
    async with get_client() as client:
        found = await client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id])))
    return {a.key: a for a in found}


async def _task_run_names(flow_run_id) -> list[str]:
    async with get_client() as client:
        runs = await client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id])))
    return sorted(r.name for r in runs)


def test_each_customer_gets_one_message_per_channel_with_the_right_content_and_nothing_twice(env):
    state = dunning(**env.params, now=NOW, return_state=True)
    assert state.is_completed(), state.message
    summary = state.result()
    mails = mails_by_reference(env.sandbox)
    assert set(mails) == {
        "C1|USD|1|2026-11-23|email", "C2|USD|15|2026-11-23|email", "C3|USD|30|2026-11-23|email",
        "C4|USD|45|2026-11-23|email", "C5|USD|60|2026-11-23|email", "C5|USD|60|2026-11-23|escalation",
        "C7|EUR|15|2026-11-23|email", "C8|USD|1|2026-11-23|email"}
    acme = mails["C1|USD|1|2026-11-23|email"]
    assert acme.rcpt_tos == ["ap0@c1.example"] and acme.mail_from == "ar@northwind.example"
    assert acme.message["Subject"] == "Friendly reminder: $2,500.00 past due (Acme Corp)"
    assert acme.message["List-Unsubscribe"] == "<mailto:ar@northwind.example?subject=unsubscribe%20C1>"
    text = acme.message.get_body(("plain",)).get_content()
    assert "Hello Pat," in text and "I1" in text and "1 day overdue" in text and "+1 312 555 0142" in text
    gamma = mails["C7|EUR|15|2026-11-23|email"].message
    assert "I7" in gamma.get_body(("plain",)).get_content() and "I8" in gamma.get_body(("plain",)).get_content()
    assert "€500.00" in gamma["Subject"]
    hostile = mails["C8|USD|1|2026-11-23|email"].message
    assert "{{ 7*7 }} <script>x</script>" in hostile.get_body(("plain",)).get_content()
    assert "&lt;script&gt;" in hostile.get_body(("html",)).get_content()
    digest = mails["C5|USD|60|2026-11-23|escalation"]
    assert digest.rcpt_tos == ["ar-manager@northwind.example"]
    assert digest.message["Subject"] == "Escalation: 1 account reached an escalation step on Nov 23, 2026"
    assert "Echo Co (C5), collector Bo Chan: $9,000.00 on 1 invoice, the oldest 61 days past due" in (
        digest.message.get_body(("plain",)).get_content())

    phones = {k["customer_id"]: k["phone_e164"] for k in ledger().contacts}
    texts = {(r.kind, r.to) for r in env.sandbox.twilio.requests}
    assert texts == {("sms", phones["C2"]), ("sms", phones["C3"]), ("sms", phones["C7"]), ("voice", phones["C4"])}
    call = next(r for r in env.sandbox.twilio.requests if r.kind == "voice")
    assert call.twiml.startswith("<Response><Say") and "Delta Inc" in call.twiml

    held = read(env.engine, "SELECT channel, reason FROM dunning_skips WHERE customer_id = 'C6' ORDER BY channel")
    assert held.values.tolist() == [["email", "disputed"], ["sms", "disputed"]]
    outbox = read(env.engine, "SELECT status, COUNT(*) AS n FROM dunning_outbox GROUP BY status")
    assert dict(zip(outbox["status"], outbox["n"], strict=True)) == {"sent": 14}
    assert summary.count("sent") == 14 and summary.count("failed") == 0

    with open(summary.call_lists / "bo-chan.csv") as f:
        calls = list(csv.DictReader(f))
    assert [c["Customer id"] for c in calls] == ["C5", "C3"]  # $9,000 x 61 days before $400 x 31 days
    assert calls[0]["Phone"] == phones["C5"] and calls[0]["Open"] == "$9,000.00"
    assert calls[0]["Contact id"] == "C5-K0"  # with the customer id, what `arpilot call start` takes

    names = asyncio.run(_task_run_names(state.state_details.flow_run_id))
    # Fan-out by aging bucket: batches of 3 (the policy's batch_size), named by bucket; escalations as one task.
    assert [n for n in names if "-batch-" in n] == [
        "send-1-30-batch-1", "send-1-30-batch-2", "send-31-60-batch-1", "send-31-60-batch-2", "send-61-90-batch-1"]
    assert sum(n.startswith("send-escalations") for n in names) == 1
    assert {n.rsplit("-", 1)[0] for n in names} >= {"reconcile-outbox", "age-open-invoices", "plan-dunning",
                                                    "dunning-summary"}
    artifacts = asyncio.run(_artifacts(state.state_details.flow_run_id))
    assert {"aging-summary", "dunning-plan", "dunning-results", "call-list-bo-chan"} <= set(artifacts)
    assert "reconciles to open AR to the cent" in artifacts["aging-summary"].description
    assert "| disputed | email | 1 |" in artifacts["dunning-plan"].data
    held_back = artifacts["dunning-plan-held-back"].data
    assert "C6" in held_back and "disputed" in held_back
    planned = artifacts["dunning-plan-messages"].data
    assert "Echo Co (C5)" in planned and "a***@c5.example" in planned and "ap0@c5.example" not in planned
    assert "14 sent" in artifacts["dunning-results"].data
    assert phones["C5"] not in artifacts["call-list-bo-chan"].data  # numbers are masked in the UI

    received = len(env.sandbox.smtp.messages), len(env.sandbox.twilio.requests)
    again = dunning(**env.params, now=NOW.replace(hour=15))
    assert again.planned == 0
    tomorrow = dunning(**env.params, now=at_local(TODAY.replace(day=24), 11, "America/Chicago"))
    assert tomorrow.count("sent") == 0
    assert (len(env.sandbox.smtp.messages), len(env.sandbox.twilio.requests)) == received


def test_transient_errors_are_retried_and_permanent_ones_recorded_with_the_provider_reason(env):
    phones = {k["customer_id"]: k["phone_e164"] for k in ledger().contacts}
    env.sandbox.smtp.fail_next(2, 451)
    env.sandbox.twilio.opted_out.add(phones["C2"])
    env.sandbox.smtp.reject_recipients["ap0@c4.example"] = 550
    summary = dunning(**env.params, now=NOW)
    rows = read(env.engine, "SELECT outbox_key, status, attempts, reason FROM dunning_outbox").set_index("outbox_key")
    assert rows.loc["C2|USD|15|2026-11-23|sms", "status"] == "failed"
    assert "21610" in rows.loc["C2|USD|15|2026-11-23|sms", "reason"]
    assert rows.loc["C4|USD|45|2026-11-23|email", ["status", "attempts"]].tolist() == ["failed", 1]
    assert "550" in rows.loc["C4|USD|45|2026-11-23|email", "reason"]
    # The relay quoted the address in its refusal; what a controller sees in the UI has it masked.
    [(_, shown_to, shown_reason)] = [f for f in summary.failures if f[0].startswith("C4|")]
    assert "ap0@c4.example" not in shown_to + shown_reason and "a***@c4.example" in shown_reason
    # Both 451s were retried on a new connection and the messages went out.
    emails = rows[rows.index.str.endswith(("|email", "|escalation"))]
    assert (emails["attempts"] - 1).sum() == 2 and summary.count("failed") == 2
    assert (emails["status"] == "sent").sum() == len(emails) - 1
    opt_outs = read(env.engine, "SELECT channel, address FROM channel_opt_outs")
    assert opt_outs.values.tolist() == [["sms", phones["C2"]]]
    # Days later the invoice reaches the 30-day step, which texts again: the opted-out number is not tried.
    with env.engine.begin() as conn:
        conn.exec_driver_sql("UPDATE invoices SET due_date = '2026-10-27' WHERE invoice_number = 'I2'")
    later = dunning(**env.params, now=at_local(TODAY.replace(day=27), 11, "America/Chicago"))
    skipped = later.skipped.set_index(["customer_id", "channel"])
    assert skipped.loc[("C2", "sms"), "reason"] == "opted out"
    assert not [r for r in env.sandbox.twilio.requests if r.to == phones["C2"]]


def test_a_payment_synced_between_planning_and_sending_cancels_the_message(env):
    policy = env.policy

    @flow
    def plan_then_pay_then_send():
        state = age_open_invoices(env.store, COMPANY, TODAY)
        plan = plan_day(env.store, state, policy, COMPANY, NOW, "run-1", False)
        with env.engine.begin() as conn:
            conn.exec_driver_sql("UPDATE invoices SET status = 'paid', open_cents = 0 WHERE invoice_number = 'I1'")
            conn.exec_driver_sql("UPDATE invoices SET disputed = TRUE WHERE invoice_number = 'I5'")
        to_customers = [m for m in plan.messages if m.channel != "escalation"]
        batches = make_batches(to_customers, ["not_due", "1-30", "31-60", "61-90", "90+"], 100, 10)
        escalations = [m for m in plan.messages if m.channel == "escalation"]
        return [send_batch(b, env.store, COMPANY, policy, env.sandbox.email, "e", env.sandbox.phone, "t", "run-1")
                for b in batches] + [send_escalations(Batch("escalation", 1, escalations), env.store, COMPANY, policy,
                                                      env.sandbox.email, "e", "run-1")]

    results = plan_then_pay_then_send()
    assert sum(n for r in results for (_, _, status), n in r.outcomes.items() if status == "cancelled") == 4
    references = set(mails_by_reference(env.sandbox))
    assert not any(key.startswith(("C1|", "C5|")) for key in references)
    reasons = read(env.engine, "SELECT customer_id, reason FROM dunning_skips WHERE reason LIKE '%since planning'")
    assert set(map(tuple, reasons.values.tolist())) == {("C1", "paid since planning"),
                                                        ("C5", "disputed since planning")}
    assert read(env.engine, "SELECT COUNT(*) AS n FROM dunning_outbox WHERE customer_id IN ('C1', 'C5')")["n"][0] == 0


def test_a_dry_run_publishes_the_plan_and_sends_nothing(env):
    state = dunning(**env.params, now=NOW, dry_run=True, return_state=True)
    plan = state.result()
    assert len(plan.messages) == 14 and env.sandbox.smtp.messages == [] and env.sandbox.twilio.requests == []
    assert read(env.engine, "SELECT COUNT(*) AS n FROM dunning_outbox")["n"][0] == 0
    artifacts = asyncio.run(_artifacts(state.state_details.flow_run_id))
    assert "(dry run: nothing was sent)" in artifacts["dunning-plan"].data


def test_late_evening_defers_far_zones_and_the_next_run_inside_their_window_sends(env):
    evening = at_local(TODAY, 20, "America/Chicago")  # 21:00 New York, 18:00 Los Angeles, 02:00 London
    first = dunning(**env.params, now=evening)
    deferred = set(first.skipped.loc[first.skipped["reason"] == "deferred: outside local window", "customer_id"])
    assert deferred == {"C1", "C3", "C5", "C7", "C8"}
    assert {key.split("|")[0] for key in mails_by_reference(env.sandbox)} == {"C2", "C4", "C5"}  # C5: escalation
    morning = dunning(**env.params, now=at_local(TODAY.replace(day=24), 9, "America/New_York"))
    sent_later = {key.split("|")[0] for key in mails_by_reference(env.sandbox)}
    assert deferred <= sent_later
    assert morning.count("sent") >= len(deferred)


def test_a_refused_relay_login_fails_the_run_with_what_to_fix_and_keeps_nothing_reserved(env):
    env.sandbox.email.model_copy(update={"password": SecretStr("wrong-pw-123")}).save(env.name, overwrite=True)
    state = dunning(**env.params, now=NOW, return_state=True)
    assert state.is_failed()
    assert "refused the login (535)" in state.message and f"arpilot-email-channel/{env.name}" in state.message
    assert "wrong-pw-123" not in state.message and "Runbook: README.md#runbook-send-tasks-failed" in state.message
    left = read(env.engine, "SELECT status FROM dunning_outbox WHERE status IN ('reserved', 'sending')")
    assert left.empty


def test_a_channel_the_contact_checks_do_not_cover_is_refused_before_planning(env):
    ContactPolicy(gates={"email": ["email_valid"]}).save(env.name, overwrite=True)
    state = dunning(**env.params, now=NOW, return_state=True)
    assert state.is_failed()
    assert "sends sms, voice, but contact policy" in state.message and "add it to that policy's gates" in state.message
    assert isinstance(state.result(raise_on_failure=False), DunningMisconfigured)


def test_a_block_that_does_not_exist_is_named_with_how_to_create_it(env):
    state = dunning(**{**env.params, "email_channel": "arpilot-email-channel/no-such-relay"}, now=NOW,
                    return_state=True)
    assert state.is_failed()
    assert "block arpilot-email-channel/no-such-relay does not exist" in state.message
    assert "create it in the Prefect UI" in state.message


def test_a_template_folder_that_does_not_exist_stops_dunning_before_anything_is_sent(env):
    missing = env.tmp / "our-wording"
    env.policy.model_copy(update={"template_dir": str(missing)}).save(env.name, overwrite=True)
    state = dunning(**env.params, now=NOW, return_state=True)
    assert state.is_failed()
    assert f"dunning policy arpilot-dunning-policy/{env.name}: template_dir {missing} is not a folder" in state.message
    assert isinstance(state.result(raise_on_failure=False), DunningMisconfigured)
    assert env.sandbox.smtp.messages == []
    assert read(env.engine, "SELECT * FROM dunning_outbox").empty


def test_a_message_the_provider_keeps_deferring_is_still_owed_and_the_next_run_sends_it(env):
    """After the last try on a transient refusal (SMTP 451, Twilio 503) the message is still owed, not done: the
    artifact says it goes out next run, and the next run sends that same message (same key) once."""
    env.policy.model_copy(update={"max_attempts": 1}).save(env.name, overwrite=True)
    env.sandbox.smtp.fail_next(1, 451)
    env.sandbox.twilio.fail_next(1, 503)
    state = dunning(**env.params, now=NOW, return_state=True)
    summary = state.result()
    rows = read(env.engine, "SELECT outbox_key, status, reason FROM dunning_outbox").set_index("outbox_key")
    deferred = rows[rows["status"] == "owed"]
    assert len(deferred) >= 2 and summary.count("owed") == len(deferred) and summary.count("failed") == 0
    assert deferred["reason"].str.contains("451").any() and deferred["reason"].str.contains("503").any()
    assert {k for k, _, _ in summary.owed} == set(deferred.index)
    results = asyncio.run(_artifacts(state.state_details.flow_run_id))["dunning-results"].data
    assert f"{len(deferred)} still owed (refused for now by the provider: sent again on the next run)" in results

    again = dunning(**env.params, now=NOW.replace(hour=13))
    assert again.planned == len(deferred) and again.count("sent") == len(deferred)
    rows = read(env.engine, "SELECT outbox_key, status FROM dunning_outbox").set_index("outbox_key")
    assert set(rows["status"]) == {"sent"} and len(rows) == 14
    mails = [k for m in env.sandbox.smtp.messages for k in delivered_keys(m.message)]
    assert len(mails) == len(set(mails)) == 8  # seven emails and one escalation, each once
    texts = [(r.kind, r.to) for r in env.sandbox.twilio.requests]
    assert len(texts) == len(set(texts)) == 4


def test_a_refused_attempt_is_not_left_sending_while_the_run_waits_to_try_again(env):
    """While a run sleeps before the next try, a kill must not leave the message looking handed over: the relay
    refused it, so the row is back to reserved (and the next run sends it) until the next attempt."""
    import threading
    import time

    env.policy.model_copy(update={"retry_backoff_seconds": [6]}).save(env.name, overwrite=True)
    env.sandbox.smtp.fail_next(1, 451)
    run = threading.Thread(target=dunning, kwargs={**env.params, "now": NOW})
    run.start()
    deadline = time.monotonic() + 60
    while not env.sandbox.smtp.refused and time.monotonic() < deadline:
        time.sleep(0.05)
    [refused] = env.sandbox.smtp.refused
    key = delivered_keys(refused.message)[0]
    time.sleep(0.5)  # the run records the refusal a moment after the relay gives it
    seen = set()
    for _ in range(30):  # then watch the row for 1.5 s of the six-second wait
        seen |= set(read(env.engine, "SELECT status FROM dunning_outbox WHERE outbox_key = :k", k=key)["status"])
        time.sleep(0.05)
    run.join()
    assert seen == {"reserved"}


def test_the_carriers_word_on_each_text_and_call_reaches_the_outbox_and_stops_the_next_call(env):
    """Twilio reports each reminder's delivery to `arpilot serve` (the Twilio channel's status_callback_url): the
    outbox shows it, a number the carrier could not reach fails the contact checks, and the next step's call to it
    is held back by the contact gate instead of going into the void again."""
    from sandbox.loopback import served
    from tasks.portal.app import create_app
    from tasks.selfservice.webhooks import TwilioWebhooks

    phones = {k["customer_id"]: k["phone_e164"] for k in ledger().contacts}
    env.sandbox.twilio.unreachable.add(phones["C3"])
    phone_desk = PhoneDesk(twilio=env.sandbox.phone, dunning_policy=env.policy, desk_contact="ar@northwind.example")

    def app(base: str):
        return create_app(PORTAL, GATEWAY, COMPANY, env.engine, today=lambda: TODAY,
                          twilio=TwilioWebhooks(phone_desk, COMPANY, base))

    with served(app) as base:
        env.sandbox.phone.model_copy(update={"status_callback_url": f"{base}/twilio/status"}).save(
            env.name, overwrite=True)
        dunning(**env.params, now=NOW)
        env.sandbox.twilio.settled()
    assert {status for _, _, status in env.sandbox.twilio.delivery_reports} == {200}
    outbox = read(env.engine, "SELECT outbox_key, status, delivery_status, COALESCE(reason, '-') FROM dunning_outbox "
                              "WHERE channel IN ('sms', 'voice') ORDER BY outbox_key")
    assert outbox.values.tolist() == [
        ["C2|USD|15|2026-11-23|sms", "sent", "delivered", "-"],
        ["C3|USD|30|2026-11-23|sms", "sent", "undelivered", "undelivered (carrier error 30003)"],
        ["C4|USD|45|2026-11-23|voice", "sent", "completed", "-"],
        ["C7|EUR|15|2026-11-23|sms", "sent", "delivered", "-"]]
    assert read(env.engine, "SELECT channel, address, error_code FROM phone_delivery_failures").values.tolist() == [
        ["sms", phones["C3"], "30003"]]
    contact_stage(env.store, ContactPolicy(output_dir=str(env.tmp / "contacts")))
    gate = read(env.engine, "SELECT customer_id, sms_ok, voice_ok FROM contact_gate WHERE customer_id IN ('C2', 'C3') "
                            "ORDER BY customer_id")
    assert [[c, bool(s), bool(v)] for c, s, v in gate.values.tolist()] == [["C2", True, True], ["C3", False, False]]
    with env.engine.begin() as conn:  # a week on, C3's invoice reaches the next step, which calls
        conn.exec_driver_sql("UPDATE invoices SET due_date = '2026-10-09' WHERE invoice_number = 'I3'")
    later = dunning(**env.params, now=at_local(TODAY.replace(day=30), 11, "America/Chicago"))
    skipped = later.skipped.set_index(["customer_id", "channel"])
    assert skipped.loc[("C3", "voice"), ["step", "reason"]].tolist() == [45, "contact failed the gate"]
    assert [r.to for r in env.sandbox.twilio.requests].count(phones["C3"]) == 1
