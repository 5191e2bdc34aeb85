"""What follows a charge: dunning holds and the customer told, the scheduled run, the ERP export and write-back,
the portal and Stripe's webhooks."""


from __future__ import annotations

import csv
import uuid
from datetime import date, timedelta

from charge_cases import CAP, SQLITE_ONLY, card, intents, read, run, sepa
from dunning_cases import COMPANY, TODAY, Ledger, seed
from pydantic import SecretStr

from blocks.autopay_policy import AutopayPolicy
from blocks.payment_gateway import PaymentGateway
from blocks.warehouse import ArWarehouse
from flows.charges import autopay_charges
from sandbox.stripe_api import FAILING_IBAN, SANDBOX_SECRET_KEY
from tasks import warehouse as wh
from tasks.charges.mandates import enroll


def dunning_holds(env, day: date) -> dict[str, str]:
    """What the dunning plan holds back on ``day``, from the same warehouse query and rule the dunning run uses."""
    from tasks.dunning.plan import hold_reasons
    from tasks.dunning.planning import aged_for_planning

    invoices = read(env.engine, wh.named_query("dunning", "open_invoices"))
    aged = aged_for_planning(invoices, day, [30, 60, 90])
    return dict(zip(aged["invoice_number"], hold_reasons(aged, day, settle_days=5), strict=True))


pytest_plugins = ("charge_cases",)  # its fixtures: env, stripe_server


def test_dunning_holds_an_invoice_while_its_debit_settles_and_resumes_once_a_decline_is_told(env):
    from tasks.dunning import plan as dp

    seed(env.engine, Ledger().customer("KO").invoice("I-KO", "KO", 1, 20_000, currency="EUR")
         .customer("HARD").invoice("I-HARD", "HARD", 1, 20_000))
    enroll(env.engine, env.client, "KO", "EUR", sepa(env.client, FAILING_IBAN), CAP, "portal")
    hard = card(env.client)
    enroll(env.engine, env.client, "HARD", "USD", hard, CAP, "cli")
    assert dunning_holds(env, TODAY) == {"I-KO": dp.AUTOPAY_SCHEDULED, "I-HARD": dp.AUTOPAY_SCHEDULED}
    env.server.decline_next(hard, "stolen_card")
    run(env)
    assert dunning_holds(env, TODAY + timedelta(days=1)) == {"I-KO": dp.AUTOPAY_PENDING, "I-HARD": dp.AUTOPAY_NOTICE}
    env.server.settle_debits()
    run(env, TODAY + timedelta(days=1))
    assert dunning_holds(env, TODAY + timedelta(days=2)) == {"I-KO": dp.AUTOPAY_NOTICE, "I-HARD": dp.AUTOPAY_NOTICE}
    # Until the customer has been told (see the flow test), or for three days at most: then dunning resumes.
    assert dunning_holds(env, TODAY + timedelta(days=4)) == {"I-KO": "", "I-HARD": ""}


@SQLITE_ONLY
def test_the_nightly_schedules_tomorrows_charges_once_as_a_run_the_controller_can_cancel(env, request):
    import asyncio
    from zoneinfo import ZoneInfo

    from prefect import flow
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.objects import StateType
    from prefect.states import Cancelled

    from tasks.charges.scheduling import schedule_charges

    @flow
    def nightly_scheduling():
        store = ArWarehouse.load(env.params["warehouse"].split("/", 1)[1])
        return schedule_charges(store, COMPANY, env.policy, TODAY, env.params)

    seed(env.engine, Ledger().customer("C1").invoice("I1", "C1", -1, 25_000))  # due tomorrow
    enroll(env.engine, env.client, "C1", "USD", card(env.client), CAP, "cli")
    assert nightly_scheduling() is None  # no deployment: the nightly takes today's charges itself

    deployment_id = autopay_charges.to_deployment(name="autopay-charges").apply()
    request.addfinalizer(lambda: asyncio.run(delete(deployment_id)))
    run = nightly_scheduling()
    assert run.state.type == StateType.SCHEDULED
    tomorrow_six = f"{TODAY + timedelta(days=1)}T06:00:00-06:00"
    assert run.expected_start_time.astimezone(ZoneInfo(COMPANY.time_zone)).isoformat() == tomorrow_six
    assert run.parameters["expected"] == [{"customer_id": "C1", "currency": "USD", "amount": "250.00", "invoices": 1}]

    async def delete(deployment_id):
        async with get_client() as client:
            await client.delete_deployment(deployment_id)

    async def cancel(run_id):
        async with get_client() as client:
            await client.set_flow_run_state(run_id, Cancelled(), force=True)

    async def same_name(name):
        async with get_client() as client:
            return [r for r in await client.read_flow_runs() if r.name == name]

    asyncio.run(cancel(run.id))
    again = nightly_scheduling()  # the nightly re-run after the controller cancelled
    assert again.id == run.id and again.state.type == StateType.CANCELLED
    assert len(asyncio.run(same_name(run.name))) == 1  # no twin
    assert intents(env) == []  # nothing charged


ERP_MAPPING = """\
source: erp
date_format: yyyy-mm-dd
currency: USD
invoices:
  file: invoices.csv
  columns: {invoice_number: number, customer_id: customer, issue_date: issued, due_date: due, amount: amount,
            open: open}
payments:
  file: payments.csv
  columns: {payment_id: id, customer_id: customer, received_on: received, amount: amount}
allocations:
  file: allocations.csv
  columns: {allocation_id: id, document_kind: kind, document_id: payment, invoice_number: invoice, amount: amount}
"""


@SQLITE_ONLY
def test_once_the_erp_imports_the_payment_the_ledger_takes_over_without_counting_it_twice(env):
    from blocks.ledger import FileLedgerSource
    from tasks.kpi.maths import Period, compute_kpis
    from tasks.kpi.reports import read_ledger
    from tasks.ledger.entities import ENTITIES
    from tasks.ledger.sources import ledger_reader
    from tasks.ledger.sync import sync_entity

    def sync(invoices: str, payments: str = "", allocations: str = "") -> None:
        (env.tmp / "invoices.csv").write_text("number,customer,issued,due,amount,open\n" + invoices)
        (env.tmp / "payments.csv").write_text("id,customer,received,amount\n" + payments)
        (env.tmp / "allocations.csv").write_text("id,kind,payment,invoice,amount\n" + allocations)
        (env.tmp / "mapping.yaml").write_text(ERP_MAPPING)
        source = FileLedgerSource(mapping_path=str(env.tmp / "mapping.yaml"))
        for entity in ENTITIES:
            if ledger_reader(source).provides(entity.name):  # as the nightly does: not contacts, credit notes, rates
                assert sync_entity(source, env.engine, entity, "run").quarantined == 0

    sync("I1,C1,2026-10-01,2026-11-20,400.00,400.00\n")
    enroll(env.engine, env.client, "C1", "USD", card(env.client), CAP, "cli")
    run(env)
    [intent] = intents(env)
    payment = f"ARP-{intent.id}"
    # The ERP imports the export: its payment keeps arpilot's id, its allocation has an id of its own.
    sync("I1,C1,2026-10-01,2026-11-20,400.00,0.00\n", f"{payment},C1,{TODAY},400.00\n",
         f"ERP-77,payment,{payment},I1,400.00\n")
    assert read(env.engine, "SELECT allocation_id FROM allocations").iloc[:, 0].tolist() == ["ERP-77"]
    assert read(env.engine, "SELECT COUNT(*) FROM payments").iloc[0, 0] == 1
    kpis = compute_kpis(read_ledger(env.engine, COMPANY.time_zone), Period(TODAY, TODAY), [30, 60, 90])
    assert kpis.currencies[0].collected_cents == 40_000  # collected once, not twice


@SQLITE_ONLY
def test_payments_are_written_back_to_the_ledger_database_once(env):
    import sqlite3

    from blocks.ledger import SqlLedgerSource

    erp = env.tmp / "erp.sqlite"
    with sqlite3.connect(erp) as db:
        db.execute("CREATE TABLE ar_receipts (receipt TEXT, invoice TEXT, amount NUMERIC, reference TEXT, "
                   "PRIMARY KEY (receipt, invoice))")
    SqlLedgerSource(source_name="erp", url=f"sqlite:///{erp}").save(env.params["warehouse"].split("/")[1])
    AutopayPolicy(export_dir=str(env.tmp / "autopay"), gateway_backoff_seconds=0, write_back_sql=(
        "INSERT INTO ar_receipts VALUES (:payment_id, :invoice_number, :applied_amount, :gateway_reference) "
        "ON CONFLICT DO NOTHING")).save(env.params["autopay_policy"].split("/")[1], overwrite=True)
    params = {**env.params, "ledger": f"arpilot-sql-ledger/{env.params['warehouse'].split('/')[1]}"}
    seed(env.engine, Ledger().customer("C1").invoice("I1", "C1", 1, 10_000).invoice("I2", "C1", 2, 5_050))
    enroll(env.engine, env.client, "C1", "USD", card(env.client), CAP, "cli")
    autopay_charges(charge_day=TODAY, **params)
    autopay_charges(charge_day=TODAY, **params)
    [intent] = intents(env)
    with sqlite3.connect(erp) as db:
        rows = db.execute("SELECT receipt, invoice, amount, reference FROM ar_receipts ORDER BY invoice").fetchall()
    assert rows == [(f"ARP-{intent.id}", "I1", 100, intent.id), (f"ARP-{intent.id}", "I2", 50.5, intent.id)]
    assert read(env.engine, "SELECT COUNT(*) FROM gateway_payments WHERE written_back_at IS NOT NULL").iloc[0, 0] == 1


@SQLITE_ONLY
def test_a_declined_charge_is_told_to_the_customer_once_before_any_reminder_and_the_collector_calls(env, sandbox):
    from dunning_cases import at_local
    from prefect import flow

    from blocks.contact_policy import ContactPolicy
    from blocks.dunning_policy import DunningPolicy
    from flows.dunning import dunning
    from tasks.contacts.checks import check_contacts, normalize_changed_contacts

    name = env.params["warehouse"].split("/")[1]
    contacts = ContactPolicy(output_dir=str(env.tmp / "contacts"))
    DunningPolicy(output_dir=str(env.tmp / "dunning"), retry_backoff_seconds=[0]).save(name, overwrite=True)
    for block in (contacts, sandbox.email, sandbox.phone):
        block.save(name, overwrite=True)
    seed(env.engine, Ledger().customer("C1", "Acme Corp").invoice("I1", "C1", 1, 40_000))

    @flow
    def contact_stage():
        store = ArWarehouse.load(name)
        normalize_changed_contacts(store, COMPANY.time_zone)
        check_contacts(store, contacts, f"arpilot-contact-policy/{name}", TODAY, str(uuid.uuid4()), "en_US")

    contact_stage()
    method = card(env.client)
    enroll(env.engine, env.client, "C1", "USD", method, CAP, "cli")
    env.server.decline_next(method, "stolen_card")
    run(env)
    blocks = {"warehouse": env.params["warehouse"], "company": env.params["company"],
              "dunning_policy": f"arpilot-dunning-policy/{name}", "contact_policy": f"arpilot-contact-policy/{name}",
              "email_channel": f"arpilot-email-channel/{name}", "twilio_channel": f"arpilot-twilio-channel/{name}"}

    first = dunning(**blocks, now=at_local(TODAY + timedelta(days=1), 11))
    [notice] = [m.message for m in sandbox.smtp.messages]
    assert notice["Subject"] == "Your automatic payment of $400.00 to Northwind Components Ltd was declined"
    text = notice.get_body(("plain",)).get_content()
    assert "card ending 4242" in text and "I1" in text and "will not try that payment method again" in text
    with open(first.call_lists / "ann-lee.csv") as f:
        assert [c["Customer id"] for c in csv.DictReader(f)] == ["C1"]  # the collector takes over

    dunning(**blocks, now=at_local(TODAY + timedelta(days=2), 11))
    subjects = [m.message["Subject"] for m in sandbox.smtp.messages]
    assert subjects.count(notice["Subject"]) == 1  # told once
    assert len(subjects) == 2 and "past due" in subjects[1]  # the reminder follows, the next night


PORTAL_KEY = "portal-signing-key-for-the-charge-tests-0123"


def portal_app(env):
    """The pay portal over this test's warehouse and local Stripe."""
    from blocks.pay_portal import PayPortal
    from sandbox.stripe_api import SANDBOX_WEBHOOK_SECRET
    from tasks.portal.app import create_app

    gateway = PaymentGateway(secret_key=SecretStr(SANDBOX_SECRET_KEY), publishable_key="pk_test_arpilot",
                             webhook_secret=SecretStr(SANDBOX_WEBHOOK_SECRET), api_base=env.server.base_url)
    portal = PayPortal(base_url="https://pay.northwind.example", signing_key=SecretStr(PORTAL_KEY))
    return create_app(portal, gateway, COMPANY, env.engine, today=lambda: TODAY)


@SQLITE_ONLY
def test_the_portal_does_not_take_again_what_an_autopay_charge_is_taking(env):
    from starlette.testclient import TestClient

    from blocks.pay_portal import PayPortal
    from tasks.portal.links import pay_link

    seed(env.engine, Ledger().customer("C1").invoice("I1", "C1", 1, 30_000, currency="EUR")
         .invoice("I2", "C1", -20, 10_000, currency="EUR"))
    enroll(env.engine, env.client, "C1", "EUR", sepa(env.client), CAP, "portal")
    assert run(env).count("processing") == 1  # I1's debit settles in days; I2 is not due
    portal = PayPortal(base_url="https://pay.northwind.example", signing_key=SecretStr(PORTAL_KEY))
    link = pay_link(portal, "C1", "EUR", TODAY).removeprefix(portal.base_url)
    with TestClient(portal_app(env)) as http:
        page = http.get(link).text
        refused = http.post(f"{link}/setup", json={"purpose": "pay", "currency": "EUR", "invoices": ["I1", "I2"]})
        allowed = http.post(f"{link}/setup", json={"purpose": "pay", "currency": "EUR", "invoices": ["I2"]})
    assert "autopay payment under way" in page and 'value="I1"' not in page and 'value="I2"' in page
    assert refused.status_code == 400 and "already being paid by your automatic payment" in refused.text
    assert allowed.status_code == 200


@SQLITE_ONLY
def test_a_signed_webhook_settles_a_bank_debit_at_once_and_only_once(env):
    import hashlib
    import hmac
    import json
    import time

    from starlette.testclient import TestClient

    from sandbox.stripe_api import SANDBOX_WEBHOOK_SECRET

    seed(env.engine, Ledger().customer("C1").invoice("I1", "C1", 1, 30_000, currency="EUR"))
    enroll(env.engine, env.client, "C1", "EUR", sepa(env.client), CAP, "portal")
    assert run(env).count("processing") == 1
    env.server.settle_debits()
    [intent] = intents(env)
    payload = json.dumps({"id": "evt_1", "object": "event", "type": "payment_intent.succeeded",
                          "created": int(time.time()), "data": {"object": intent.to_dict()}}).encode()
    at = int(time.time())
    signature = hmac.new(SANDBOX_WEBHOOK_SECRET.encode(), f"{at}.".encode() + payload, hashlib.sha256).hexdigest()
    with TestClient(portal_app(env)) as http:
        answers = [http.post("/stripe/webhook", content=payload, headers={"Stripe-Signature": f"t={at},v1={signature}"})
                   for _ in range(2)]
    assert [a.status_code for a in answers] == [200, 200]
    assert read(env.engine, "SELECT status, payment_id FROM charges").values.tolist() == [
        ["succeeded", f"ARP-{intent.id}"]]
    assert read(env.engine, "SELECT COUNT(*) FROM allocations").iloc[0, 0] == 1
    assert read(env.engine, "SELECT open_cents FROM invoices").iloc[0, 0] == 0
