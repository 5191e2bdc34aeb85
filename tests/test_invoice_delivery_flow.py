"""Invoices delivered when issued, end to end: the dunning flow on a real Prefect API and a real SMTP relay delivers
a new invoice once with its PDF, never the back catalogue, later inside the contact's hours, and counts the rest."""

from __future__ import annotations

import csv
import subprocess
import uuid
from datetime import timedelta
from types import SimpleNamespace

import pytest
from dunning_cases import COMPANY, TODAY, Ledger, at_local, seed
from test_dunning_crash import SEND_WORKERS, Scenario, seeded_warehouse
from test_dunning_flow import contact_stage, read

from blocks.contact_policy import ContactPolicy
from blocks.dunning_policy import DunningPolicy, DunningStep
from blocks.warehouse import ArWarehouse
from flows.dunning import DunningMisconfigured, dunning
from tasks.dunning.plan import DEFERRED, GATE_FAILED

NOW = at_local(TODAY, 11, "America/Chicago")  # 12:00 in New York, 02:00 in Tokyo
ERP_PDF = b"%PDF-1.4\n% the ERP's own invoice N2\n%%EOF\n"


def ledger() -> Ledger:
    return (Ledger()
            .customer("C1", "Acme Corp").invoice("N1", "C1", -30, 250_000, issued=TODAY)
            .customer("C2", "Bolt LLC", zone="America/Los_Angeles")
            .invoice("N2", "C2", -29, 80_000, issued=TODAY - timedelta(days=1), pdf="N2.pdf")
            .customer("C3", "Crane Ltd").invoice("OLD", "C3", -10, 40_000, issued=TODAY - timedelta(days=20))
            .customer("C4", "Delta Inc", email="not-an-address").invoice("N4", "C4", -30, 10_000, issued=TODAY)
            .customer("C5", "Echo Co", contacts=0).invoice("N5", "C5", -30, 20_000, issued=TODAY)
            .customer("C6", "Fuji KK", zone="Asia/Tokyo").invoice("N6", "C6", -30, 30_000, currency="JPY",
                                                                 issued=TODAY))


@pytest.fixture
def env(prefect_api, warehouse, warehouse_url, tmp_path, sandbox):
    name = f"i-{uuid.uuid4().hex[:8]}"
    (tmp_path / "erp-pdfs").mkdir()
    (tmp_path / "erp-pdfs" / "N2.pdf").write_bytes(ERP_PDF)
    store = ArWarehouse(url=warehouse_url)
    contacts = ContactPolicy(output_dir=str(tmp_path / "contacts"), max_failing_share=0.5)
    policy = DunningPolicy(output_dir=str(tmp_path / "dunning"), retry_backoff_seconds=[0],
                           deliver_invoices_from=TODAY - timedelta(days=3), invoice_pdf_dir=str(tmp_path / "erp-pdfs"))
    for block in (COMPANY, store, contacts, policy, sandbox.email, sandbox.phone):
        block.save(name, overwrite=True)
    seed(warehouse, ledger())
    contact_stage(store, contacts)
    params = {"warehouse": f"arpilot-ar-warehouse/{name}", "company": f"arpilot-company-profile/{name}",
              "dunning_policy": f"arpilot-dunning-policy/{name}", "contact_policy": f"arpilot-contact-policy/{name}",
              "email_channel": f"arpilot-email-channel/{name}", "twilio_channel": f"arpilot-twilio-channel/{name}"}
    return SimpleNamespace(params=params, engine=warehouse, policy=policy, sandbox=sandbox, tmp=tmp_path, name=name)


def invoices_mailed(sandbox) -> dict[str, list]:
    """Received invoice emails by invoice number (a list: a second delivery would show as two)."""
    mailed: dict[str, list] = {}
    for m in sandbox.smtp.messages:
        number, _, channel = m.message["X-Arpilot-Reference"].rpartition("|")
        assert channel == "invoice", m.message["X-Arpilot-Reference"]
        mailed.setdefault(number, []).append(m)
    return mailed


def pdf_text(pdf: bytes, folder) -> str:
    path = folder / f"{uuid.uuid4().hex}.pdf"
    path.write_bytes(pdf)
    return subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True, check=True).stdout


def test_a_new_invoice_is_delivered_once_with_its_pdf_and_not_again_on_the_next_night(env):
    first = dunning(**env.params, now=NOW)
    mailed = invoices_mailed(env.sandbox)
    assert set(mailed) == {"N1", "N2"}  # OLD predates delivery; N4, N5 have no usable contact; N6 is deferred
    [acme] = mailed["N1"]
    assert acme.rcpt_tos == ["ap0@c1.example"]
    assert acme.message["Subject"] == "Invoice N1 from Northwind Components Ltd: $2,500.00 due Dec 23, 2026"
    [pdf] = list(acme.message.iter_attachments())
    assert pdf.get_content_type() == "application/pdf" and pdf.get_content().startswith(b"%PDF-")
    assert "Invoice N1" in pdf_text(pdf.get_content(), env.tmp)
    [bolt] = mailed["N2"]
    [erp] = list(bolt.message.iter_attachments())
    assert erp.get_content() == ERP_PDF  # the ERP's own PDF, as it is
    assert first.count("sent", "invoice") == 2 and first.invoices_unsent == 3
    unsent = {r.invoice_number: r.reason for r in first.deliveries.unsent.itertuples()}
    assert unsent == {"N4": GATE_FAILED, "N5": GATE_FAILED, "N6": DEFERRED}
    assert first.skipped[["channel", "reason"]].values.tolist() == [["invoice", GATE_FAILED]] * 2 + [
        ["invoice", DEFERRED]]  # beside the reminders held back (none here)
    rows = read(env.engine, "SELECT outbox_key, channel, status FROM dunning_outbox ORDER BY outbox_key")
    assert rows.values.tolist() == [["N1|invoice", "invoice", "sent"], ["N2|invoice", "invoice", "sent"]]
    with open(first.message_log.parent / "invoices-unsent.csv", newline="") as f:
        worklist = list(csv.DictReader(f))
    assert [(w["Invoice"], w["Collector"], w["Why unsent"]) for w in worklist] == [
        ("N4", "Ann Lee", GATE_FAILED), ("N5", "Ann Lee", GATE_FAILED), ("N6", "Ann Lee", DEFERRED)]

    evening = dunning(**env.params, now=at_local(TODAY, 19, "America/Chicago"))  # 10:00 the next day in Tokyo
    assert set(invoices_mailed(env.sandbox)) == {"N1", "N2", "N6"}
    assert evening.count("sent", "invoice") == 1 and evening.deliveries.delivered_before == 2

    next_night = dunning(**env.params, now=NOW + timedelta(days=1))
    mailed = invoices_mailed(env.sandbox)
    assert {n: len(m) for n, m in mailed.items()} == {"N1": 1, "N2": 1, "N6": 1}
    assert next_night.count("sent", "invoice") == 0 and next_night.deliveries.delivered_before == 3
    assert next_night.invoices_unsent == 2  # N4, N5 stay on the list until their contacts are fixed
    held = read(env.engine, "SELECT DISTINCT channel, reason FROM dunning_skips WHERE channel = 'invoice'")
    assert set(held["reason"]) == {GATE_FAILED, DEFERRED}


def test_a_dry_run_counts_the_invoices_it_would_deliver_and_sends_nothing(env):
    dunning(**env.params, now=NOW, dry_run=True)
    assert env.sandbox.smtp.messages == []
    assert read(env.engine, "SELECT count(*) AS n FROM dunning_outbox")["n"].iloc[0] == 0


def test_delivery_without_an_email_channel_is_refused_before_planning(env):
    texts_only = env.policy.model_copy(update={"steps": [DunningStep(offset=15, channels=["sms"], tone="firm")]})
    texts_only.save(env.name, overwrite=True)
    with pytest.raises(DunningMisconfigured, match="sends email but no email channel block"):
        dunning(**(env.params | {"email_channel": None}), now=NOW)
    assert read(env.engine, "SELECT count(*) AS n FROM dunning_outbox")["n"].iloc[0] == 0


@pytest.mark.parametrize("kill_at", ["reserved:1", "before-send:2", "handing-over:3", "provider-accepted:2",
                                     "completed:4"])
def test_killed_while_delivering_and_run_again_each_invoice_arrives_once(prefect_api, tmp_path, kill_at):
    """Eight new invoices through a relay that refuses one send in five for now; the run is SIGKILLed, then run
    until nothing is owed. Each invoice arrives once; one the run was handing over when it died may be lost, and
    is then flagged unknown, never silently dropped (as for reminders)."""
    new = Ledger()
    for n in range(8):
        new.customer(f"K{n}").invoice(f"NEW-{n}", f"K{n}", -30, 10_000 * (n + 1), issued=TODAY)
    s = Scenario(tmp_path, seeded_warehouse(tmp_path, new), seed=3, batch_size=3, deliver_invoices_from=TODAY,
                 steps=[DunningStep(offset=15, channels=["sms"], tone="firm")])
    try:
        s.kill(kill_at)
        s.settle()
        mails, _ = s.received()
        want = {f"NEW-{n}|invoice" for n in range(8)}
        statuses = s.outbox()
        assert set(statuses) == want and set(statuses.values()) <= {"sent", "unknown"}
        assert all(count == 1 for count in mails.values()), f"sent twice: {mails}"
        lost = want - set(mails)
        assert all(statuses[key] == "unknown" for key in lost) and len(lost) <= SEND_WORKERS
    finally:
        s.close()
