"""Disputes with a fixed clock: recorded once with the ledger's reason, the AR manager and the sales rep told once
each, the collector's worklist, escalation levels as days pass, resolution with its outcome, and dunning held
and resumed at the invoice's place in the cadence."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from types import SimpleNamespace

import pytest
import sqlalchemy as sa
from dunning_cases import COMPANY, TODAY, Ledger, seed

from blocks.dunning_policy import DunningPolicy
from blocks.escalation_policy import EscalationLevel, EscalationPolicy
from blocks.report_recipients import ReportRecipients
from blocks.warehouse import ArWarehouse
from flows.disputes import dispute_escalation, resolve_dispute
from tasks.disputes.escalation import raise_levels
from tasks.disputes.events import DISPUTED, dispute_event
from tasks.disputes.notices import level_due
from tasks.disputes.records import ledger_outcome, record_disputes
from tasks.dunning.planning import age_open_invoices

SEEN = f"{TODAY.isoformat()} 08:00:00"
MANAGER, REP, CONTROLLER, CFO, COLLECTOR = ("ar-manager@northwind.example", "kim.rep@northwind.example",
                                            "controller@northwind.example", "cfo@northwind.example",
                                            "ann.lee@northwind.example")
POLICY = EscalationPolicy(ar_managers=[MANAGER], levels=[EscalationLevel(days=10, title="controller", to=[CONTROLLER]),
                                                         EscalationLevel(days=30, title="CFO", to=[CFO])])


@pytest.fixture
def env(prefect_api, warehouse, warehouse_url, sandbox, tmp_path):
    name = f"x-{uuid.uuid4().hex[:8]}"
    blocks = [COMPANY, ArWarehouse(url=warehouse_url), POLICY, sandbox.email,
              ReportRecipients(sales_reps={"Kim Rep": REP}, collectors={"Ann Lee": COLLECTOR}),
              DunningPolicy(output_dir=str(tmp_path / "dunning"))]
    for block in blocks:
        block.save(name, overwrite=True)
    seed(warehouse, Ledger().customer("C1", "Acme Corp", sales_rep="Kim Rep")
         .invoice("I1", "C1", 20, 125_000, disputed=True).invoice("I2", "C1", 5, 40_000)
         .customer("C2", "Bolt LLC", sales_rep="Nobody Known").invoice("I3", "C2", 3, 10_000))
    with warehouse.begin() as conn:
        conn.execute(sa.text("UPDATE invoices SET dispute_code = 'pricing', dispute_reason = 'Unit price differs from "
                             "the purchase order' WHERE invoice_number = 'I1'"))
        record_disputes(conn, SEEN)
    params = {"warehouse": f"arpilot-ar-warehouse/{name}", "company": f"arpilot-company-profile/{name}",
              "escalation_policy": f"arpilot-escalation-policy/{name}",
              "recipients": f"arpilot-report-recipients/{name}", "dunning_policy": f"arpilot-dunning-policy/{name}",
              "email_channel": f"arpilot-email-channel/{name}"}
    return SimpleNamespace(engine=warehouse, params=params, smtp=sandbox.smtp)


def disputes(engine) -> list[tuple]:
    with engine.connect() as conn:
        return conn.execute(sa.text("SELECT invoice_number, reason_code, amount_cents, owner, level, status "
                                    "FROM invoice_disputes ORDER BY opened_at")).all()


def mail_to(smtp, address: str) -> list:
    return [m.message for m in smtp.messages if address in m.rcpt_tos]


def test_a_new_dispute_reaches_the_manager_and_the_sales_rep_once_each_with_what_they_need(env):
    assert disputes(env.engine) == [("I1", "pricing", 125_000, "Ann Lee", 0, "open")]
    first = dispute_escalation("arpilot.invoice.I1", **env.params, today=TODAY)
    again = dispute_escalation("I1", **env.params, today=TODAY)
    assert len(first.mail.sent) == 2 and again.mail.sent == [] and again.opened == 0  # nothing left to tell
    (manager,), (rep,) = mail_to(env.smtp, MANAGER), mail_to(env.smtp, REP)
    assert manager["Subject"] == rep["Subject"] == \
        "Dispute: Acme Corp, invoice I1 ($1,250.00): pricing"
    text = manager.get_body(("plain",)).get_content()
    for needed in ("Acme Corp (C1)", "Unit price differs from the purchase order", "Collector:  Ann Lee",
                   "Sales rep:  Kim Rep", "ap0@c1.example", "0 days", "Reminders sent so far"):
        assert needed in text
    with env.engine.connect() as conn:
        worklist = conn.execute(sa.text("SELECT collector, customer_id, kind, detail FROM collector_worklist")).all()
    assert worklist == [("Ann Lee", "C1", "dispute", "I1: $1,250.00 disputed since 2026-11-23 "
                                                     "(pricing: Unit price differs from the purchase order)")]


def test_the_nightlys_catch_up_tells_only_disputes_whose_event_run_had_its_chance(env):
    """With a dispute-escalation deployment, the nightly tells only what was announced before seen_before."""
    with env.engine.begin() as conn:
        conn.execute(sa.text("UPDATE invoice_disputes SET announced_at = :at"), {"at": SEEN})
    seen = datetime.fromisoformat(SEEN)
    early = dispute_escalation(None, **env.params, seen_before=seen - timedelta(minutes=1), today=TODAY)
    assert early.mail.sent == [] and mail_to(env.smtp, MANAGER) == []
    later = dispute_escalation(None, **env.params, seen_before=seen + timedelta(hours=1), today=TODAY)
    assert later.opened == 1 and len(mail_to(env.smtp, MANAGER)) == len(mail_to(env.smtp, REP)) == 1


@pytest.mark.parametrize("warehouse_url", ["sqlite"], indirect=True)
def test_a_sync_that_sees_the_same_dispute_again_records_nothing_new(env):
    with env.engine.begin() as conn:
        record_disputes(conn, f"{(TODAY + timedelta(days=1)).isoformat()} 08:00:00")
    assert len(disputes(env.engine)) == 1


@pytest.mark.parametrize("warehouse_url", ["sqlite"], indirect=True)
def test_a_sales_rep_without_an_address_is_named_in_the_run_and_the_manager_still_hears(env):
    with env.engine.begin() as conn:
        conn.execute(sa.text("UPDATE invoices SET disputed = TRUE WHERE invoice_number = 'I3'"))
        record_disputes(conn, SEEN)
    result = dispute_escalation("I3", **env.params, today=TODAY)
    assert [n.to for n in result.mail.sent] == [(MANAGER,)]


@pytest.mark.parametrize("warehouse_url", ["sqlite"], indirect=True)
def test_escalation_levels_go_up_with_days_open_and_each_level_is_told_once(env):
    assert [level_due(d, POLICY) for d in (0, 9, 10, 29, 30, 400)] == [0, 0, 1, 1, 2, 2]
    assert raise_levels.fn(env.engine, POLICY, TODAY + timedelta(days=9)) == 0
    assert raise_levels.fn(env.engine, POLICY, TODAY + timedelta(days=10)) == 1
    day10 = dispute_escalation(None, **env.params, today=TODAY + timedelta(days=10))
    assert {n.key for n in day10.mail.sent} >= {"dispute|I1@2026-11-23 08:00:00|level-1",
                                               "dispute|I1@2026-11-23 08:00:00|level-1|owner"}
    (controller,) = mail_to(env.smtp, CONTROLLER)
    assert controller["Subject"].startswith("Dispute open 10 days, to the controller: Acme Corp")
    assert len(mail_to(env.smtp, COLLECTOR)) == 1  # the owner is reminded
    assert raise_levels.fn(env.engine, POLICY, TODAY + timedelta(days=11)) == 0
    dispute_escalation(None, **env.params, today=TODAY + timedelta(days=11))
    assert len(mail_to(env.smtp, CONTROLLER)) == 1
    assert raise_levels.fn(env.engine, POLICY, TODAY + timedelta(days=30)) == 1
    dispute_escalation(None, **env.params, today=TODAY + timedelta(days=30))
    assert len(mail_to(env.smtp, CFO)) == 1 and disputes(env.engine)[0][4] == 2


def test_a_persons_decision_resolves_the_dispute_tells_both_and_dunning_resumes_at_its_place(env):
    aged = age_open_invoices.fn(ArWarehouse(url=str(env.engine.url.render_as_string(hide_password=False))), COMPANY,
                                TODAY)
    assert aged.invoices.set_index("invoice_number").loc["I1", "disputed"]
    dispute_escalation("I1", **env.params, today=TODAY)
    with pytest.raises(ValueError, match="say who decided"):
        resolve_dispute("I1", "rejected", "", "", **env.params)
    resolve_dispute("I1", "rejected", "Dana Park", "Price matches the signed quote", **env.params)
    assert disputes(env.engine)[0][5] == "rejected"
    outcome = [m for m in mail_to(env.smtp, MANAGER) if "rejected" in m["Subject"]]
    assert len(outcome) == 1 and "decided by Dana Park" in outcome[0].get_body(("plain",)).get_content()
    assert len([m for m in mail_to(env.smtp, REP) if "rejected" in m["Subject"]]) == 1
    with env.engine.begin() as conn:  # the ledger still flags it until the ERP is updated: not opened again
        record_disputes(conn, f"{(TODAY + timedelta(days=1)).isoformat()} 08:00:00")
        worklist_done = conn.execute(sa.text("SELECT done_at FROM collector_worklist")).scalar()
    assert len(disputes(env.engine)) == 1 and worklist_done is not None
    aged = age_open_invoices.fn(ArWarehouse(url=str(env.engine.url.render_as_string(hide_password=False))), COMPANY,
                                TODAY)
    assert not aged.invoices.set_index("invoice_number").loc["I1", "disputed"]  # dunned again, at its age's step


def test_outcomes_read_from_the_ledger():
    opened = TODAY
    assert ledger_outcome("paid", None, opened) == "paid"
    assert ledger_outcome("open", None, opened) == "rejected"
    assert ledger_outcome("open", opened, opened) == "credited"
    assert ledger_outcome("paid", opened - timedelta(days=5), opened) == "paid"  # an older credit is not this one's
    assert ledger_outcome("void", None, opened) == "credited"


@pytest.mark.parametrize("warehouse_url", ["sqlite"], indirect=True)
def test_the_ledger_clearing_its_flag_closes_the_dispute_and_a_new_flag_opens_a_new_one(warehouse):
    seed(warehouse, Ledger().customer("C1").invoice("I1", "C1", 20, disputed=True))
    with warehouse.begin() as conn:
        record_disputes(conn, SEEN)
        conn.execute(sa.text("UPDATE invoices SET disputed = FALSE"))
        record_disputes(conn, f"{TODAY.isoformat()} 09:00:00")
        conn.execute(sa.text("UPDATE invoices SET disputed = TRUE"))
        record_disputes(conn, f"{TODAY.isoformat()} 10:00:00")
        rows = conn.execute(sa.text("SELECT opened_at, closed_at, status, resolved_by FROM invoice_disputes "
                                    "ORDER BY opened_at")).all()
    assert [(str(r[0]), str(r[1]), r[2], r[3]) for r in rows] == [
        (SEEN, f"{TODAY.isoformat()} 09:00:00", "rejected", "ledger"),
        (f"{TODAY.isoformat()} 10:00:00", "None", "open", None)]


def test_the_event_names_the_invoice_as_resource_and_customer_collector_and_rep_as_related():
    event = dispute_event({"dispute_id": "I1@x", "invoice_number": "I1", "status": "open", "reason_code": "pricing",
                           "reason_text": "Price", "currency": "USD", "amount_cents": 125_000, "customer_id": "C1",
                           "customer_name": "Acme Corp", "collector": "Ann Lee", "sales_rep": "Kim Rep"}, DISPUTED)
    assert event["event"] == "arpilot.invoice.disputed"
    assert event["resource"]["prefect.resource.id"] == "arpilot.invoice.I1"
    assert [(r["prefect.resource.id"], r["prefect.resource.role"]) for r in event["related"]] == [
        ("arpilot.customer.C1", "customer"), ("arpilot.collector.ann-lee", "collector"),
        ("arpilot.sales-rep.kim-rep", "sales-rep")]
    assert event["payload"]["amount"] == "1250.00" and event["payload"]["reason_code"] == "pricing"


@pytest.mark.parametrize("warehouse_url", ["sqlite"], indirect=True)
def test_the_cli_records_a_decision_and_refuses_an_invoice_without_an_open_dispute(env, capsys):
    from flows.cli import main

    blocks = [f"--{flag}={env.params[param]}" for flag, param in (
        ("warehouse", "warehouse"), ("company", "company"), ("escalation-policy", "escalation_policy"),
        ("recipients", "recipients"), ("email-channel", "email_channel"), ("dunning-policy", "dunning_policy"))]
    assert main(["dispute", "resolve", "--invoice", "I2", "--outcome", "credited", "--by", "Dana Park",
                 "--note", "n", *blocks]) == 1
    assert "invoice I2 has no open dispute" in capsys.readouterr().err
    assert main(["dispute", "resolve", "--invoice", "I1", "--outcome", "credited", "--by", "Dana Park",
                 "--note", "Credit note CN-9 issued", *blocks]) == 0
    assert disputes(env.engine)[0][5] == "credited"
    assert [m["Subject"] for m in mail_to(env.smtp, MANAGER)] == [
        "Dispute resolved by a credit: Acme Corp, invoice I1"]


@pytest.mark.parametrize("warehouse_url", ["sqlite"], indirect=True)
def test_a_notice_the_relay_refused_for_now_is_sent_by_the_next_run_and_the_others_not_again(env):
    dispute_escalation("I1", **env.params, today=TODAY)
    with env.engine.begin() as conn:  # as if the relay had refused the rep's email until the run gave up
        conn.execute(sa.text("UPDATE staff_notices SET status = 'owed' WHERE notice_key LIKE '%|opened|sales'"))
    again = dispute_escalation(None, **env.params, today=TODAY + timedelta(days=1))
    assert [n.key for n in again.mail.sent] == ["dispute|I1@2026-11-23 08:00:00|opened|sales"]
    assert len(mail_to(env.smtp, MANAGER)) == 1 and len(mail_to(env.smtp, REP)) == 2
