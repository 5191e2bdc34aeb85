"""`arpilot demo`: the whole job on embedded defaults, as a new user first sees it.

A generated sample ERP, a local SMTP relay, Twilio-compatible API and Stripe (the sandbox), and blocks pointing at
them; then two nights of the nightly run, autopay enrolment and charges, and the KPI reports.
"""

from __future__ import annotations

import secrets
import shutil
import sys
import time
from datetime import date
from pathlib import Path

from pydantic import SecretStr
from rich.console import Console

from flows.demo_output import (
    contact_table,
    dunning_table,
    print_autopay_plan,
    print_autopay_results,
    print_contacts,
    print_credit_review,
    print_deliveries,
    print_dunning,
    print_follow_ups,
    print_ivr_call,
    print_reports,
    reasons_table,
    sync_table,
)
from flows.local_prefect import PROJECT_ROOT

DEMO_DIR = PROJECT_ROOT / "var" / "demo"
BLOCK_NAME = "arpilot"
DEMO_PORTAL = "http://127.0.0.1:8000"  # `arpilot serve --sandbox` (make portal) answers the demo's pay links
AUTOPAY = {"payment_gateway": f"arpilot-payment-gateway/{BLOCK_NAME}",
           "autopay_policy": f"arpilot-autopay-policy/{BLOCK_NAME}"}
ESCALATION = {"escalation_policy": f"arpilot-escalation-policy/{BLOCK_NAME}"}
CREDIT = {"credit_policy": f"arpilot-credit-policy/{BLOCK_NAME}"}
ENROLLED = 40  # demo customers enrolled for autopay


def save_demo_blocks(erp: Path, warehouse: Path, smtp_port: int, twilio_url: str, stripe_url: str,
                     delivery_from: date) -> None:
    """The blocks the nightly deployment reads, pointing at the demo's sample ERP, warehouse and local servers;
    invoices issued from ``delivery_from`` on are delivered."""
    from blocks.autopay_policy import AutopayPolicy
    from blocks.company import CompanyProfile
    from blocks.contact_policy import ContactPolicy
    from blocks.credit_policy import CreditPolicy
    from blocks.dunning_policy import DunningPolicy
    from blocks.email_channel import EmailChannel
    from blocks.escalation_policy import EscalationLevel, EscalationPolicy
    from blocks.ledger import SqlLedgerSource
    from blocks.pay_portal import PayPortal
    from blocks.phone_desk import PhoneDesk
    from blocks.report_recipients import ReportRecipients
    from blocks.twilio_channel import TwilioChannel
    from blocks.warehouse import ArWarehouse
    from sandbox.sample_erp.world import COLLECTORS, SALES_REPS
    from sandbox.twilio_api import SANDBOX_ACCOUNT_SID, SANDBOX_AUTH_TOKEN

    CompanyProfile(
        legal_name="Northwind Components Ltd", time_zone="America/Chicago", default_currency="USD",
        locale="en_US", sender_name="Northwind Accounts Receivable",
        bank_accounts={"USD": "JPMorgan Chase Bank, N.A., Chicago\nABA routing 071000013, account 1234567890",
                       "EUR": "Commerzbank AG, Frankfurt\nIBAN DE89 3704 0044 0532 0130 00, BIC COBADEFFXXX",
                       "GBP": "Barclays Bank UK PLC, London\nSort code 20-00-00, account 55779911"},
    ).save(BLOCK_NAME, overwrite=True)
    SqlLedgerSource(source_name="sample-erp", url=f"sqlite:///{erp}").save(BLOCK_NAME, overwrite=True)
    ArWarehouse(url=f"sqlite:///{warehouse}").save(BLOCK_NAME, overwrite=True)
    ContactPolicy(output_dir=str(DEMO_DIR / "output" / "contact-quality")).save(BLOCK_NAME, overwrite=True)
    portal = PayPortal(base_url=DEMO_PORTAL, signing_key=SecretStr(secrets.token_urlsafe(32)))
    portal.save(BLOCK_NAME, overwrite=True)
    policy = DunningPolicy(
        output_dir=str(DEMO_DIR / "output" / "dunning"), escalation_to=["ar-manager@northwind.example"],
        pay_portal=portal, ar_phone="+1 312 555 0100", unsubscribe_email="ar-optout@northwind.example",
        deliver_invoices_from=delivery_from,
    )
    policy.save(BLOCK_NAME, overwrite=True)
    email = EmailChannel(host="127.0.0.1", port=smtp_port, security="none", from_address="ar@northwind.example",
                         reply_to="collections@northwind.example")
    email.save(BLOCK_NAME, overwrite=True)
    twilio = TwilioChannel(account_sid=SANDBOX_ACCOUNT_SID, auth_token=SANDBOX_AUTH_TOKEN, from_number="+13125550100",
                           api_base_url=twilio_url)
    twilio.save(BLOCK_NAME, overwrite=True)
    PhoneDesk(twilio=twilio, dunning_policy=policy, email=email,
              desk_contact="ar@northwind.example or +1 312 555 0100").save(BLOCK_NAME, overwrite=True)
    demo_gateway(stripe_url).save(BLOCK_NAME, overwrite=True)
    AutopayPolicy(export_dir=str(DEMO_DIR / "output" / "autopay")).save(BLOCK_NAME, overwrite=True)
    EscalationPolicy(ar_managers=["ar-manager@northwind.example"],
                     levels=[EscalationLevel(days=10, title="controller", to=["controller@northwind.example"]),
                             EscalationLevel(days=30, title="CFO", to=["cfo@northwind.example"])],
                     ).save(BLOCK_NAME, overwrite=True)
    CreditPolicy(export_dir=str(DEMO_DIR / "output" / "credit")).save(BLOCK_NAME, overwrite=True)
    ReportRecipients(
        executives=["cfo@northwind.example", "controller@northwind.example"],
        collectors={name: f"{_mailbox(name)}@northwind.example" for name in COLLECTORS},
        sales_reps={name: f"{_mailbox(name)}@northwind.example" for name in SALES_REPS},
        output_dir=str(DEMO_DIR / "output" / "reports"),
    ).save(BLOCK_NAME, overwrite=True)


def demo_gateway(stripe_url: str):
    """A payment gateway block for the sandbox's Stripe at ``stripe_url``."""
    from blocks.payment_gateway import PaymentGateway
    from sandbox.stripe_api import SANDBOX_SECRET_KEY, SANDBOX_WEBHOOK_SECRET

    return PaymentGateway(secret_key=SecretStr(SANDBOX_SECRET_KEY), publishable_key="pk_test_arpilot_sandbox",
                          webhook_secret=SecretStr(SANDBOX_WEBHOOK_SECRET), api_base=stripe_url)


def sandbox_stripe(webhook_url: str):
    """A running local Stripe posting its webhooks to ``webhook_url`` (for `arpilot serve --sandbox`)."""
    from sandbox.stripe_api import StripeTestServer

    server = StripeTestServer()
    server.start()
    server.add_webhook(webhook_url)
    return server


def _mailbox(name: str) -> str:
    return ".".join(name.lower().split())


def enroll_demo_customers(stripe, day: date) -> dict[str, str]:
    """Enrol customers with invoices due, as `arpilot autopay enroll` does: cards, SEPA debits for euro accounts;
    one card that will be short of funds, one reported stolen, and one mandate capped too low. Returns who is
    which."""
    import sqlalchemy as sa

    from blocks import load_block
    from sandbox.stripe_api import SUCCEEDING_IBAN
    from tasks.charges.mandates import enroll

    engine = load_block(f"arpilot-ar-warehouse/{BLOCK_NAME}").engine()
    client = load_block(AUTOPAY["payment_gateway"]).client()
    with engine.connect() as conn:
        due = conn.execute(sa.text(
            "SELECT customer_id, MIN(currency) FROM invoices WHERE status = 'open' AND open_cents > 0 AND NOT disputed "
            "AND due_date <= :day GROUP BY customer_id HAVING COUNT(DISTINCT currency) = 1 ORDER BY customer_id"),
            {"day": day}).all()[:ENROLLED]
    roles, plants = {}, ["short of funds: retried in 3 business days", "card reported stolen", "capped"]
    for customer, currency in due:
        if currency == "EUR":
            method = client.v1.payment_methods.create(params={
                "type": "sepa_debit", "sepa_debit": {"iban": SUCCEEDING_IBAN}, "billing_details": {"name": customer}})
        else:
            method = client.v1.payment_methods.create(params={"type": "card", "card": {
                "number": "4242424242424242", "exp_month": 12, "exp_year": 2030, "cvc": "123"}})
        plant = plants.pop(0) if currency == "USD" and plants else None  # US customers: told in their hours
        enroll(engine, client, customer, currency, method.id, 100 if plant == "capped" else 10**11, "cli")
        if plant == "capped":
            roles[customer] = "mandate capped at $1.00: the collector is told"
        elif plant:
            stripe.decline_next(method.id, "insufficient_funds" if plant.startswith("short") else "stolen_card")
            roles[customer] = plant
    return roles


def demo_ivr_call(twilio, now):
    """One IVR call from a demo customer's AP contact (a US number, reachable by text at ``now``, owing something
    past due), placed through the sandbox Twilio server against the serve app under uvicorn on loopback; returns the
    caller, the call played, its log rows and the files of the texts it sent (None when no contact qualifies)."""
    import sqlalchemy as sa

    from blocks import DEFAULT_PHONE_DESK, load_block
    from sandbox.loopback import served
    from tasks.portal.app import create_app
    from tasks.selfservice.webhooks import TwilioWebhooks

    company, phone = load_block(f"arpilot-company-profile/{BLOCK_NAME}"), load_block(DEFAULT_PHONE_DESK)
    engine = load_block(f"arpilot-ar-warehouse/{BLOCK_NAME}").engine()
    with engine.connect() as conn:
        caller = conn.execute(sa.text(
            "SELECT p.phone_e164 FROM contact_profiles p JOIN contacts k ON k.contact_id = p.contact_id "
            "JOIN invoices i ON i.customer_id = p.customer_id AND i.status = 'open' AND i.open_cents > 0 "
            "AND i.due_date < :today AND NOT i.disputed "
            "WHERE p.phone_e164 IS NOT NULL AND p.time_zone LIKE 'America/%' AND NOT k.opt_out_sms "
            "AND NOT EXISTS (SELECT 1 FROM channel_opt_outs o WHERE o.channel = 'sms' AND o.address = p.phone_e164) "
            "GROUP BY p.phone_e164 HAVING COUNT(DISTINCT p.customer_id) = 1 ORDER BY p.phone_e164 LIMIT 1"),
            {"today": now.date()}).scalar()
    if caller is None:
        return None
    def app(base: str):
        hooks = TwilioWebhooks(phone, company, base, clock=lambda: now)
        return create_app(load_block(f"arpilot-pay-portal/{BLOCK_NAME}"), demo_gateway("http://127.0.0.1:9"), company,
                          engine, today=lambda: now.date(), twilio=hooks)

    before = len(twilio.requests)
    with served(app) as base:
        call = twilio.place_inbound_call(f"{base}/twilio/voice", caller, keys=["1", "4", "1"])
    with engine.connect() as conn:
        steps = conn.execute(sa.text("SELECT turn, choice, outcome FROM ivr_call_steps WHERE call_sid = :s "
                                     "ORDER BY turn"), {"s": call.call_sid}).all()
    return caller, call, steps, [r.path for r in twilio.requests[before:]]


def demo_credit_review(day: date):
    """The credit review on the demo's blocks, approved in full by the controller as the UI's form sends it;
    the review's id (its flow run's)."""
    from prefect import resume_flow_run

    from flows.credit_review import credit_review
    from sandbox.paused_runs import paused_run, start_in_thread

    thread, outcome = start_in_thread(lambda: credit_review(as_of=day, return_state=True))
    run = paused_run(f"credit-review-all-{day}", within=300)
    resume_flow_run(run.id, run_input={"decided_by": "Dana Controller", "approve_all": True, "overrides": [],
                                       "reject": False, "comment": "monthly review, demo"})
    thread.join(300)
    if not outcome.get("state") or not outcome["state"].is_completed():
        raise RuntimeError(f"the demo's credit review did not complete: {outcome.get('state')}")
    return str(run.id)


def demo(invoices: int, seed: int) -> int:
    from sandbox.smtp_relay import CaptureSmtpServer
    from sandbox.stripe_api import StripeTestServer
    from sandbox.twilio_api import SANDBOX_ACCOUNT_SID, SANDBOX_AUTH_TOKEN, TwilioTestServer

    console = Console() if sys.stdout.isatty() else Console(width=150)
    shutil.rmtree(DEMO_DIR, ignore_errors=True)
    DEMO_DIR.mkdir(parents=True)
    erp, warehouse, outbox = DEMO_DIR / "erp.sqlite", DEMO_DIR / "warehouse.sqlite", DEMO_DIR / "outbox"
    with (CaptureSmtpServer(outbox / "mail") as smtp,
          TwilioTestServer(outbox / "twilio", SANDBOX_ACCOUNT_SID, SANDBOX_AUTH_TOKEN) as twilio,
          StripeTestServer() as stripe):
        return _demo(console, invoices, seed, erp, warehouse, outbox, smtp.port, twilio, stripe)


def _demo(console: Console, invoices: int, seed: int, erp: Path, warehouse: Path, outbox: Path, smtp_port: int,
          twilio, stripe) -> int:
    from datetime import datetime
    from datetime import time as clock
    from zoneinfo import ZoneInfo

    from blocks import load_block
    from flows.nightly import nightly
    from sandbox.sample_erp import generate, issue_invoices, touch_contacts, touch_invoices
    from tasks.charges.charging import read_plan

    console.rule("[bold]arpilot demo")
    console.print(f"1. Generating a sample ERP with {invoices:,} invoices (seed {seed}) in "
                  f"{erp.relative_to(PROJECT_ROOT)}")
    summary = generate(erp, invoices=invoices, seed=seed, progress=True)
    console.print(summary.report(), highlight=False)
    zone = ZoneInfo("America/Chicago")
    morning = datetime.combine(datetime.now(zone).date(), clock(10), zone)
    twilio_url = twilio.base_url
    save_demo_blocks(erp, warehouse, smtp_port, twilio_url, stripe.base_url, morning.date())
    console.print(f"2. Saved blocks '{BLOCK_NAME}' (company profile, SQL ledger, AR warehouse, contact and dunning "
                  f"policies (invoices issued from {morning.date()} on are delivered), email and Twilio channels, "
                  "payment gateway, autopay policy, pay portal, escalation policy, credit policy, phone desk) in the "
                  "Prefect API. "
                  "Email goes to an SMTP relay on "
                  f"127.0.0.1:{smtp_port}, SMS and calls to a Twilio-compatible API at {twilio_url}; both keep what "
                  f"they receive in {outbox.relative_to(PROJECT_ROOT)}. Charges go to a local Stripe at "
                  f"{stripe.base_url}")

    console.print(f"3. Nightly run: full sync of the ledger into an empty warehouse, contact checks, aging, then "
                  f"dunning as if sent at {morning:%H:%M} company time (America/Chicago)")
    started = time.perf_counter()
    first = nightly(now=morning, **AUTOPAY, **ESCALATION, **CREDIT)
    console.print(sync_table(f"First run ({time.perf_counter() - started:.1f} s): sync", first.sync))
    console.print(reasons_table(first.sync))
    print_contacts(console, first.contacts)
    print_dunning(console, first.dunning, outbox)
    print_follow_ups(console, first)

    roles = enroll_demo_customers(stripe, morning.date())
    console.print(f"4. Autopay: {ENROLLED} customers with invoices due enrolled (cards; SEPA debits for euro "
                  "accounts), as `arpilot autopay enroll` does. In production the nightly now schedules tomorrow's "
                  "autopay-charges run (a Scheduled run in the UI the controller can cancel); here the next nightly "
                  "takes them. Planted: " + "; ".join(f"{c} {why}" for c, why in roles.items()), highlight=False)
    print_autopay_plan(console, read_plan(load_block(f"arpilot-ar-warehouse/{BLOCK_NAME}"), morning.date()))

    changed = touch_invoices(erp, fraction=0.01, seed=seed + 1)
    verified = touch_contacts(erp, fraction=0.02, seed=seed + 2)
    issued = issue_invoices(erp, count=max(1, invoices // 1000), seed=seed + 3)
    afternoon = morning.replace(hour=17)
    console.print(f"5. A day of ledger activity: {changed:,} invoices changed (payments, disputes, promises), "
                  f"{len(issued):,} new invoices issued, {verified:,} contacts re-verified by collectors. The nightly "
                  f"runs again at {afternoon:%H:%M}: autopay charges are taken, the new invoices are delivered, "
                  "nothing already sent goes twice; messages deferred for the contact's local hour may go now")
    started = time.perf_counter()
    second = nightly(now=afternoon, **AUTOPAY, **ESCALATION, **CREDIT)
    console.print(sync_table(f"Second run ({time.perf_counter() - started:.1f} s): only what changed", second.sync))
    print_autopay_results(console, second.autopay)
    console.print(contact_table("AP contact checks, with the change since the first run", second.contacts))
    console.print(dunning_table(f"Dunning, second run: {second.dunning.planned:,} messages planned",
                                second.dunning))
    print_deliveries(console, second.dunning)
    print_follow_ups(console, second)

    from flows.kpi_reports import kpi_reports, last_full_month_end

    month_end = last_full_month_end(morning.date())
    console.print(f"6. KPI reports for {month_end:%B %Y}, the last full month, as the monthly deployment sends them "
                  "on the 1st: one PDF for the executives, one per collector, one per sales rep, each emailed to its "
                  "reader")
    started = time.perf_counter()
    reports = kpi_reports(period="month", as_of=month_end, now=afternoon, **ESCALATION)
    print_reports(console, reports, time.perf_counter() - started)

    console.print("7. A customer calls the AR desk's number: Twilio's webhooks in the serve app (on loopback), the "
                  "local Twilio server playing Twilio's part; the caller presses 1 (past due), then 4 and 1 (a pay "
                  "link by text), then nothing")
    call = demo_ivr_call(twilio, afternoon)
    if call is None:
        console.print("No customer owing something past due has a US AP contact who may get texts: no call placed")
    else:
        print_ivr_call(console, *call)

    console.print("8. Credit review, as the monthly deployment runs it on the 1st: every customer scored on the credit "
                  "policy's open scorecard, each sales rep emailed their accounts' proposals, and the run waits in the "
                  "Prefect UI for an approver's form. Here the controller answers at once: approve all")
    started = time.perf_counter()
    review_id = demo_credit_review(afternoon.date())
    print_credit_review(console, load_block(f"arpilot-ar-warehouse/{BLOCK_NAME}").engine(), review_id,
                        DEMO_DIR / "output" / "credit", time.perf_counter() - started)

    reconciled = all(r.reconciles for r in first.sync + second.sync)
    console.print(
        f"\nEvery entity reconciles (read = inserted + updated + unchanged + quarantined): "
        f"{'[green]yes' if reconciled else '[red]NO'}[/]"
    )
    console.print(f"Warehouse: {warehouse.relative_to(PROJECT_ROOT)} (SQLite; table `quarantine` holds refused rows)")
    console.print("Browse both runs, their task runs and artifacts (ledger-sync, ledger-quarantine, contact-quality, "
                  "contact-cleanup-<collector>, dispute-escalation, aging-summary, autopay-plan, autopay-results, "
                  "sales-heads-up, credit-watch, credit-review, dunning-plan, "
                  "invoice-delivery, dunning-results, call-list-<collector>, kpi-summary, report-<audience>):")
    console.print("  [bold]make ui[/]  then open http://127.0.0.1:4200/runs")
    console.print(f"Pay a reminder: [bold]make portal[/] (the pay portal on {DEMO_PORTAL} with a local Stripe), then "
                  f"open the Pay now link of any email in {outbox.relative_to(PROJECT_ROOT)}/mail; test card "
                  "4242 4242 4242 4242")
    return 0 if reconciled else 1
