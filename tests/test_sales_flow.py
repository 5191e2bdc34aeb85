"""The heads-up to sales on a real Prefect API and a real SMTP relay, then the dunning that follows it: each rep
gets one email a day with the story of every account about to reach a final notice (a rep without an address:
the AR managers get it), and dunning on the final day honours the answers (hold, soften, silence)."""

from __future__ import annotations

import uuid
from datetime import date
from types import SimpleNamespace

import pandas as pd
import pytest
from dunning_cases import COMPANY, TODAY, Ledger, at_local, seed
from test_dunning_flow import contact_stage, mails_by_reference, read

from blocks.contact_policy import ContactPolicy
from blocks.dunning_policy import DunningPolicy
from blocks.escalation_policy import EscalationPolicy
from blocks.report_recipients import ReportRecipients
from blocks.warehouse import ArWarehouse
from flows.cli import main as arpilot
from flows.dunning import dunning
from flows.sales_review import sales_heads_up
from tasks import warehouse as wh
from tasks.sales.reviews import Decision, record_decision

NOW = at_local(TODAY, 11, "America/Chicago")
FINAL_DAY = date(2026, 11, 28)  # every asked account's oldest invoice reaches the 60-day final step


def ledger() -> Ledger:
    return (Ledger()
            .customer("C1", "Acme Corp", sales_rep="Rita Reyes").invoice("I1", "C1", 55, 250_000)
            .invoice("I1d", "C1", 58, 40_000, disputed=True)
            .customer("C2", "Bolt LLC", sales_rep="Rita Reyes").invoice("I2", "C2", 55, 80_000)
            .customer("C3", "Crane Ltd", sales_rep="Sam Stone").invoice("I3", "C3", 55, 30_000)
            .customer("C4", "Delta Inc", sales_rep="Rita Reyes").invoice("I4", "C4", 30, 10_000))


def seed_history(engine) -> None:
    """A payment and a reminder sent earlier, and an open dispute: the story the rep reads."""
    at = wh.utcnow()
    with engine.begin() as conn:
        wh.insert(conn, "payments", pd.DataFrame([{
            "payment_id": "P1", "customer_id": "C1", "received_on": "2026-10-01", "currency": "USD",
            "amount_cents": 120_000, "method": "ach", "row_hash": 1, "synced_at": at}]))
        wh.insert(conn, "invoice_disputes", pd.DataFrame([{
            "invoice_number": "I1d", "opened_at": "2026-11-02 10:00:00", "dispute_id": "I1d@1", "status": "open",
            "reason_text": "wrong quantity delivered", "currency": "USD", "amount_cents": 40_000}]))
        wh.insert(conn, "dunning_outbox", pd.DataFrame([{
            "outbox_key": "C1|USD|45|2026-11-13|email", "customer_id": "C1", "currency": "USD", "step": 45,
            "channel": "email", "planned_on": "2026-11-13", "bucket": "31-60", "amount_cents": 250_000,
            "invoices": 1, "status": "sent", "run_id": "r0", "owner": "x", "lease_until": at, "reserved_at": at}]))


@pytest.fixture
def env(prefect_api, warehouse, warehouse_url, tmp_path, sandbox):
    name = f"s-{uuid.uuid4().hex[:8]}"
    store = ArWarehouse(url=warehouse_url)
    contacts = ContactPolicy(output_dir=str(tmp_path / "contacts"))
    policy = DunningPolicy(output_dir=str(tmp_path / "dunning"), escalation_to=["ar-manager@northwind.example"],
                           retry_backoff_seconds=[0])
    escalation = EscalationPolicy(ar_managers=["ar-manager@northwind.example"], sales_hold_days=14)
    recipients = ReportRecipients(sales_reps={"Rita Reyes": "rita@northwind.example"})
    for block in (COMPANY, store, contacts, policy, sandbox.email, sandbox.phone, escalation, recipients):
        block.save(name, overwrite=True)
    seed(warehouse, ledger())
    seed_history(warehouse)
    contact_stage(store, contacts)
    blocks = {"warehouse": f"arpilot-ar-warehouse/{name}", "company": f"arpilot-company-profile/{name}",
              "dunning_policy": f"arpilot-dunning-policy/{name}", "email_channel": f"arpilot-email-channel/{name}"}
    return SimpleNamespace(name=name, blocks=blocks, engine=warehouse, sandbox=sandbox,
                           sales={**blocks, "escalation_policy": f"arpilot-escalation-policy/{name}",
                                  "recipients": f"arpilot-report-recipients/{name}"},
                           dunning={**blocks, "contact_policy": f"arpilot-contact-policy/{name}",
                                    "twilio_channel": f"arpilot-twilio-channel/{name}"})


def reviews(engine) -> dict:
    frame = read(engine, "SELECT customer_id, step, final_on, sales_rep, decision, decided_by, reason, hold_until "
                         "FROM final_notice_reviews ORDER BY customer_id")
    return {r["customer_id"]: r for r in frame.astype(object).where(frame.notna(), None).to_dict("records")}


def text_of(mail) -> str:
    return mail.message.get_body(("plain",)).get_content()


@pytest.mark.parametrize("warehouse_url", ["sqlite", "postgresql"], indirect=True)
def test_each_rep_gets_one_email_with_the_accounts_story_and_a_rerun_sends_nothing(env):
    state = sales_heads_up(**env.sales, now=NOW, return_state=True)
    assert state.is_completed(), state.message
    asked = reviews(env.engine)
    assert set(asked) == {"C1", "C2", "C3"}  # Delta is a month from its final notice
    assert {str(r["final_on"])[:10] for r in asked.values()} == {"2026-11-28"} and asked["C1"]["step"] == 60
    assert all(r["decision"] is None for r in asked.values())
    mails = {m.rcpt_tos[0]: m for m in env.sandbox.smtp.messages}
    assert set(mails) == {"rita@northwind.example", "ar-manager@northwind.example"}
    rita = mails["rita@northwind.example"]
    assert rita.message["X-Arpilot-Reference"] == "sales-heads-up|Rita Reyes|2026-11-23"
    assert rita.message["Subject"] == "2 accounts of Rita Reyes reach a final notice soon: proceed, hold or soften?"
    text = text_of(rita)
    assert "Acme Corp (C1), USD: $2,900.00 open; final notice (step 60) on 2026-11-28, in 5 days" in text
    assert "I1  due 2026-09-29  $2,500.00  55 days past due" in text
    assert "2026-11-13  step 45  email  (1 invoice)" in text and "Last payment: 2026-10-01, $1,200.00" in text
    assert "I1d since 2026-11-02, $400.00: wrong quantity delivered" in text
    assert "Bolt LLC (C2)" in text and "Crane" not in text and "Delta" not in text
    assert 'arpilot sales decide --customer C1 --currency USD --choice hold --by "Your Name"' in text
    manager = text_of(mails["ar-manager@northwind.example"])
    assert "This email is for sales rep Sam Stone, who has no address in the report recipients block" in manager
    assert "Crane Ltd (C3)" in manager

    again = sales_heads_up(**env.sales, now=NOW, return_state=True).result()
    assert again.asked.empty and len(again.mail.already) == 2 and len(env.sandbox.smtp.messages) == 2


@pytest.mark.parametrize("warehouse_url", ["sqlite"], indirect=True)
def test_dunning_on_the_final_day_honours_hold_and_soften_and_proceeds_on_silence(env):
    sales_heads_up(**env.sales, now=NOW)
    assert arpilot(["sales", "decide", "--customer", "C1", "--currency", "usd", "--choice", "hold", "--by",
                    "Rita Reyes", "--reason", "renewal signed, paying with it", "--warehouse",
                    env.blocks["warehouse"], "--company", env.blocks["company"],
                    "--escalation-policy", env.sales["escalation_policy"]]) == 0
    with env.engine.begin() as conn:  # the same hold, on the fixed clock: until 2026-12-07
        record_decision(conn, Decision("C1", "USD", "hold", "Rita Reyes", "renewal signed, paying with it"),
                        at_local(TODAY, 15), TODAY, 14)
        record_decision(conn, Decision("C2", "USD", "soften", "Rita Reyes", "strategic account"),
                        at_local(TODAY, 15), TODAY, 14)
    assert arpilot(["sales", "decide", "--customer", "C3", "--currency", "USD", "--choice", "soften", "--by",
                    "Sam", "--warehouse", env.blocks["warehouse"], "--company", env.blocks["company"],
                    "--escalation-policy", env.sales["escalation_policy"]]) == 1  # soften needs a reason
    decided = reviews(env.engine)
    assert (decided["C1"]["decision"], decided["C1"]["decided_by"], decided["C1"]["reason"],
            str(decided["C1"]["hold_until"])) == ("hold", "Rita Reyes", "renewal signed, paying with it",
                                                  "2026-12-07")
    assert decided["C2"]["decision"] == "soften" and decided["C3"]["decision"] is None
    env.sandbox.smtp.messages.clear()

    assert dunning(**env.dunning, now=at_local(FINAL_DAY, 11, "America/Chicago"), return_state=True).is_completed()
    mails = mails_by_reference(env.sandbox)
    assert "C1|USD|60|2026-11-28|email" not in mails
    assert mails["C2|USD|60|2026-11-28|email"].message["Subject"].startswith("Payment overdue: $800.00")  # firm
    assert mails["C3|USD|60|2026-11-28|email"].message["Subject"].startswith("Final notice: $300.00")  # silence
    held = read(env.engine, "SELECT DISTINCT reason FROM dunning_skips WHERE customer_id = 'C1'")
    assert set(held["reason"]) == {"sales rep hold"}

    env.sandbox.smtp.messages.clear()
    assert dunning(**env.dunning, now=at_local(date(2026, 12, 8), 11, "America/Chicago"),
                   return_state=True).is_completed()
    released = mails_by_reference(env.sandbox)
    assert released["C1|USD|60|2026-12-08|email"].message["Subject"].startswith("Final notice: $2,500.00")


@pytest.mark.parametrize("warehouse_url", ["sqlite"], indirect=True)
def test_where_a_sales_review_deployment_exists_each_rep_answers_in_their_run_linked_from_the_email(env, request):
    import asyncio

    from prefect.client.orchestration import get_client

    from flows.sales_review import sales_review

    deployment_id = sales_review.to_deployment(name="sales-review").apply()

    async def delete():
        async with get_client() as client:
            await client.delete_deployment(deployment_id)

    request.addfinalizer(lambda: asyncio.run(delete()))
    result = sales_heads_up(**env.sales, now=NOW)
    runs = result.runs
    assert set(runs) == {"sales-heads-up|Rita Reyes|2026-11-23", "sales-heads-up|Sam Stone|2026-11-23"}
    rita = runs["sales-heads-up|Rita Reyes|2026-11-23"]
    assert rita.parameters["sales_rep"] == "Rita Reyes" and rita.parameters["asked_on"] == "2026-11-23"
    assert [a["customer_id"] for a in rita.parameters["accounts"]] == ["C1", "C2"]
    mail = next(m for m in env.sandbox.smtp.messages if m.rcpt_tos == ["rita@northwind.example"])
    assert f"/runs/flow-run/{rita.id}" in text_of(mail) and "arpilot sales decide" not in text_of(mail)
    again = sales_heads_up(**env.sales, now=NOW)  # a rerun finds the same runs, never a twin
    assert {k: r.id for k, r in again.runs.items()} == {k: r.id for k, r in runs.items()}
