"""`arpilot`: the command line a finance-ops engineer uses before and beside the Prefect deployments.

  arpilot demo         generate a sample ERP, run the nightly job twice (full, then a day of changes): sync,
                       AP contact checks and the sending gate, aging and dunning to a local SMTP relay and
                       Twilio-compatible API; print what happened and where the messages are
  arpilot sample-erp   write a sample ERP database (see sandbox/sample_erp/)
  arpilot serve        the pay portal and Stripe's webhooks (ASGI under uvicorn), over the named blocks
"""

from __future__ import annotations

import argparse
import secrets
import shutil
import sys
import time
from pathlib import Path

from pydantic import SecretStr
from rich.console import Console
from rich.table import Table

from flows.local_prefect import PROJECT_ROOT, use_local_prefect

use_local_prefect()  # before blocks and flows import prefect

DEMO_DIR = PROJECT_ROOT / "var" / "demo"
BLOCK_NAME = "arpilot"
DEMO_PORTAL = "http://127.0.0.1:8000"  # `arpilot serve --sandbox` (make portal) answers the demo's pay links


def save_demo_blocks(erp: Path, warehouse: Path, smtp_port: int, twilio_url: str, delivery_from) -> None:
    """The blocks the nightly deployment reads, pointing at the demo's sample ERP, warehouse and local servers;
    invoices issued from ``delivery_from`` on are delivered."""
    from blocks.company import CompanyProfile
    from blocks.contact_policy import ContactPolicy
    from blocks.dunning_policy import DunningPolicy
    from blocks.email_channel import EmailChannel
    from blocks.ledger import SqlLedgerSource
    from blocks.pay_portal import PayPortal
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
    DunningPolicy(
        output_dir=str(DEMO_DIR / "output" / "dunning"), escalation_to=["ar-manager@northwind.example"],
        pay_portal=portal, ar_phone="+1 312 555 0100", unsubscribe_email="ar-optout@northwind.example",
        deliver_invoices_from=delivery_from,
    ).save(BLOCK_NAME, overwrite=True)
    EmailChannel(host="127.0.0.1", port=smtp_port, security="none", from_address="ar@northwind.example",
                 reply_to="collections@northwind.example").save(BLOCK_NAME, overwrite=True)
    TwilioChannel(account_sid=SANDBOX_ACCOUNT_SID, auth_token=SANDBOX_AUTH_TOKEN, from_number="+13125550100",
                  api_base_url=twilio_url).save(BLOCK_NAME, overwrite=True)
    ReportRecipients(
        executives=["cfo@northwind.example", "controller@northwind.example"],
        collectors={name: f"{_mailbox(name)}@northwind.example" for name in COLLECTORS},
        sales_reps={name: f"{_mailbox(name)}@northwind.example" for name in SALES_REPS},
        output_dir=str(DEMO_DIR / "output" / "reports"),
    ).save(BLOCK_NAME, overwrite=True)


def _mailbox(name: str) -> str:
    return ".".join(name.lower().split())


def _sync_table(title: str, results) -> Table:
    table = Table(title=title, title_justify="left")
    for column in ("entity", "read", "inserted", "updated", "unchanged", "quarantined", "deleted"):
        table.add_column(column, justify="left" if column == "entity" else "right")
    for r in results:
        table.add_row(r.entity, *(f"{getattr(r, c):,}" for c in ("read", "inserted", "updated", "unchanged",
                                                                   "quarantined", "deleted")))
    return table


def _reasons_table(results) -> Table:
    table = Table(title="Quarantined ledger rows by reason", title_justify="left")
    table.add_column("entity")
    table.add_column("reason")
    table.add_column("rows", justify="right")
    for r in results:
        for reason, rows in r.quarantine_reasons.items():
            table.add_row(r.entity, reason, f"{rows:,}")
    return table


def _contact_table(title: str, check) -> Table:
    table = Table(title=title, title_justify="left")
    for column in ("check", "gates", "evaluated", "failed", "pass rate", "change"):
        table.add_column(column, justify="left" if column in ("check", "gates") else "right")
    for c in check.checks:
        table.add_row(c.check, ", ".join(c.gates) or "report only", f"{c.evaluated:,}", f"{c.failed:,}",
                      f"{c.pass_rate:.1%}", c.change or "")
    return table


def _worklist_table(check, rows: int = 8) -> Table:
    """The first rows of the first collectors' cleanup worklists, read back from the CSVs the run wrote."""
    import pandas as pd

    table = Table(title=f"Cleanup worklists ({check.worklist_rows:,} contacts; the first of each collector)",
                  title_justify="left")
    for column in ("collector", "customer", "contact", "what is wrong", "suggested fix", "blocked"):
        table.add_column(column, overflow="fold")
    shown = 0
    for csv in sorted(check.worklists.glob("*.csv")):
        for _, r in pd.read_csv(csv, keep_default_na=False).head(1).iterrows():
            table.add_row(r["Collector"], f"{r['Customer']} ({r['Customer id']})",
                          f"{r['Contact']} {r['Address (masked)']}".strip(), r["What is wrong"], r["Suggested fix"],
                          r["Automated sends blocked on"])
            shown += 1
            if shown == rows:
                return table
    return table


def _print_contacts(console: Console, check) -> None:
    d = check.decision
    console.print(_contact_table("AP contact checks of customers with an open balance (Great Expectations suites "
                                 "ap_customers, ap_contacts)", check))
    state = "[red]closed: dunning would not run" if d.closed else "[green]open"
    console.print(f"Contact gate {state}[/]: {d.failing_rows:,} of {d.roster_rows:,} AP contacts of customers with "
                  f"an open balance fail a gating check ({d.failing_share:.1%}; limit {d.max_failing_share:.0%})")
    console.print("Customers with no usable contact, on their collector's manual list: "
                  + ", ".join(f"{channel} {n:,}" for channel, n in d.manual_customers.items()))
    console.print(_worklist_table(check))
    console.print(f"Worklists per collector (CSV): {check.worklists.relative_to(PROJECT_ROOT)}")
    console.print(f"GX Data Docs: {(check.data_docs / 'index.html').relative_to(PROJECT_ROOT)}")


def _dunning_table(title: str, summary) -> Table:
    """Per aging bucket and channel: sent, failed, still owed (refused for now by the provider: sent next run),
    cancelled since planning, and held back with the reasons."""
    counted = ("sent", "failed", "owed", "cancelled")
    table = Table(title=title, title_justify="left")
    for column in ("bucket", "channel", *counted, "held back", "why held back"):
        table.add_column(column, justify="right" if column in (*counted, "held back") else "left", overflow="fold")
    outcomes = summary.outcomes.groupby(["bucket", "channel", "status"])["messages"].sum()
    skips = summary.skipped.groupby(["bucket", "channel"])["reason"].value_counts()
    keys = sorted({k[:2] for k in outcomes.index} | {k[:2] for k in skips.index},
                  key=lambda k: (BUCKETS.index(k[0]) if k[0] in BUCKETS else 99, k[1]))
    for bucket, channel in keys:
        def count(status: str, b=bucket, c=channel) -> str:
            return f"{int(outcomes.get((b, c, status), 0)):,}"
        held = skips[(bucket, channel)] if (bucket, channel) in skips.index.droplevel(2) else None
        reasons = ", ".join(f"{reason} {n:,}" for reason, n in held.items()) if held is not None else ""
        table.add_row(bucket, channel, *(count(status) for status in counted),
                      f"{int(held.sum()) if held is not None else 0:,}", reasons)
    return table


BUCKETS = ["not_due", "1-30", "31-60", "61-90", "90+"]


def _print_dunning(console: Console, summary, outbox: Path) -> None:
    console.print(_dunning_table(f"Dunning on {summary.planned_on}: {summary.planned:,} messages planned", summary))
    mails = sorted((outbox / "mail").glob("*.eml"))
    texts = sorted((outbox / "twilio").glob("*.json"))
    console.print(f"Rendered messages as received: {len(mails):,} emails in "
                  f"{(outbox / 'mail').relative_to(PROJECT_ROOT)} (open any .eml in a mail program), {len(texts):,} "
                  "SMS and calls in "
                  f"{(outbox / 'twilio').relative_to(PROJECT_ROOT)}")
    escalated = summary.count("sent", "escalation")
    if escalated:
        console.print(f"Escalations: the {escalated:,} accounts counted above went to the AR manager as one digest "
                      "email (accounts attached as CSV), not one email each")
    if summary.call_lists:
        console.print(f"Collectors' call lists (CSV): {summary.call_lists.relative_to(PROJECT_ROOT)}")
    console.print(f"Message log: {summary.message_log.relative_to(PROJECT_ROOT)}")
    _print_deliveries(console, summary)


def _print_deliveries(console: Console, summary) -> None:
    d = summary.deliveries
    reasons = ", ".join(f"{reason} {n:,}" for reason, n in d.unsent["reason"].value_counts().items())
    console.print(f"Invoices delivered when issued (open invoices issued since {d.since}): "
                  f"{summary.count('sent', 'invoice'):,} delivered with their PDF, {d.delivered_before:,} by an "
                  f"earlier run, {summary.invoices_unsent:,} still unsent" + (f" ({reasons})" if reasons else ""),
                  highlight=False)


def _print_reports(console: Console, run, seconds: float) -> None:
    table = Table(title=f"KPI reports ({seconds:.1f} s: KPIs {run.kpi_seconds:.1f} s, Chrome start "
                        f"{run.chrome_start_seconds:.1f} s)", title_justify="left")
    for column in ("KPI", *(c.currency for c in run.company.currencies)):
        table.add_column(column, justify="left" if column == "KPI" else "right")
    from reports.formats import unknown_notes
    from tasks.kpi.reports import kpi_rows

    for name, fmt in kpi_rows("en_US"):
        table.add_row(name, *(fmt(c) for c in run.company.currencies))
    console.print(table)
    for note in unknown_notes(run.company):
        console.print(f"Unknown: {note}", highlight=False)
    folder = run.reports[0].pdf.parent
    console.print(f"{len(run.reports)} reports (PDF and HTML) in {folder.relative_to(PROJECT_ROOT)}, e.g. "
                  f"{run.reports[0].pdf.name}; each emailed to its audience (the .eml files in the outbox)")


def demo(invoices: int, seed: int) -> int:
    from sandbox.smtp_relay import CaptureSmtpServer
    from sandbox.twilio_api import SANDBOX_ACCOUNT_SID, SANDBOX_AUTH_TOKEN, TwilioTestServer

    console = Console() if sys.stdout.isatty() else Console(width=150)
    shutil.rmtree(DEMO_DIR, ignore_errors=True)
    DEMO_DIR.mkdir(parents=True)
    erp, warehouse, outbox = DEMO_DIR / "erp.sqlite", DEMO_DIR / "warehouse.sqlite", DEMO_DIR / "outbox"
    with (CaptureSmtpServer(outbox / "mail") as smtp,
          TwilioTestServer(outbox / "twilio", SANDBOX_ACCOUNT_SID, SANDBOX_AUTH_TOKEN) as twilio):
        return _demo(console, invoices, seed, erp, warehouse, outbox, smtp.port, twilio.base_url)


def _demo(console: Console, invoices: int, seed: int, erp: Path, warehouse: Path, outbox: Path, smtp_port: int,
          twilio_url: str) -> int:
    from datetime import datetime
    from datetime import time as clock
    from zoneinfo import ZoneInfo

    from flows.nightly import nightly
    from sandbox.sample_erp import generate, issue_invoices, touch_contacts, touch_invoices

    console.rule("[bold]arpilot demo")
    console.print(f"1. Generating a sample ERP with {invoices:,} invoices (seed {seed}) in "
                  f"{erp.relative_to(PROJECT_ROOT)}")
    summary = generate(erp, invoices=invoices, seed=seed, progress=True)
    console.print(summary.report(), highlight=False)
    zone = ZoneInfo("America/Chicago")
    morning = datetime.combine(datetime.now(zone).date(), clock(10), zone)
    save_demo_blocks(erp, warehouse, smtp_port, twilio_url, morning.date())
    console.print(f"2. Saved blocks '{BLOCK_NAME}' (company profile, SQL ledger, AR warehouse, contact and dunning "
                  f"policies (invoices issued from {morning.date()} on are delivered), email and Twilio channels) in "
                  "the Prefect API. Email goes to an SMTP relay on "
                  f"127.0.0.1:{smtp_port}, SMS and calls to a Twilio-compatible API at {twilio_url}; both keep what "
                  f"they receive in {outbox.relative_to(PROJECT_ROOT)}")

    console.print(f"3. Nightly run: full sync of the ledger into an empty warehouse, contact checks, aging, then "
                  f"dunning as if sent at {morning:%H:%M} company time (America/Chicago)")
    started = time.perf_counter()
    first = nightly(now=morning)
    console.print(_sync_table(f"First run ({time.perf_counter() - started:.1f} s): sync", first.sync))
    console.print(_reasons_table(first.sync))
    _print_contacts(console, first.contacts)
    _print_dunning(console, first.dunning, outbox)

    changed = touch_invoices(erp, fraction=0.01, seed=seed + 1)
    verified = touch_contacts(erp, fraction=0.02, seed=seed + 2)
    issued = issue_invoices(erp, count=max(1, invoices // 1000), seed=seed + 3)
    afternoon = morning.replace(hour=17)
    console.print(f"4. A day of ledger activity: {changed:,} invoices changed (payments, disputes, promises), "
                  f"{len(issued):,} new invoices issued, {verified:,} contacts re-verified by collectors. The nightly "
                  f"runs again at {afternoon:%H:%M}: the new invoices are delivered, nothing already sent goes twice; "
                  "messages deferred for the contact's local hour may go now")
    started = time.perf_counter()
    second = nightly(now=afternoon)
    console.print(_sync_table(f"Second run ({time.perf_counter() - started:.1f} s): only what changed", second.sync))
    console.print(_contact_table("AP contact checks, with the change since the first run", second.contacts))
    console.print(_dunning_table(f"Dunning, second run: {second.dunning.planned:,} messages planned",
                                 second.dunning))
    _print_deliveries(console, second.dunning)

    from flows.reports import kpi_reports, last_full_month_end

    month_end = last_full_month_end(morning.date())
    console.print(f"5. KPI reports for {month_end:%B %Y}, the last full month, as the monthly deployment sends them "
                  "on the 1st: one PDF for the executives, one per collector, one per sales rep, each emailed to its "
                  "reader")
    started = time.perf_counter()
    reports = kpi_reports(period="month", as_of=month_end, now=afternoon)
    _print_reports(console, reports, time.perf_counter() - started)

    reconciled = all(r.reconciles for r in first.sync + second.sync)
    console.print(
        f"\nEvery entity reconciles (read = inserted + updated + unchanged + quarantined): "
        f"{'[green]yes' if reconciled else '[red]NO'}[/]"
    )
    console.print(f"Warehouse: {warehouse.relative_to(PROJECT_ROOT)} (SQLite; table `quarantine` holds refused rows)")
    console.print("Browse both runs, their task runs and artifacts (ledger-sync, ledger-quarantine, contact-quality, "
                  "contact-cleanup-<collector>, aging-summary, dunning-plan, invoice-delivery, dunning-results, "
                  "call-list-<collector>, "
                  "kpi-summary, report-<audience>):")
    console.print("  [bold]make ui[/]  then open http://127.0.0.1:4200/runs")
    console.print(f"Pay a reminder: [bold]make portal[/] (the pay portal on {DEMO_PORTAL} with a local Stripe), then "
                  f"open the Pay now link of any email in {outbox.relative_to(PROJECT_ROOT)}/mail; test card "
                  "4242 4242 4242 4242")
    return 0 if reconciled else 1


def serve(args: argparse.Namespace) -> int:
    """Run the pay portal until stopped; behind the company's TLS proxy in production."""
    import uvicorn

    from blocks import load_block
    from tasks.portal.app import create_app

    company, warehouse = load_block(args.company), load_block(args.warehouse)
    if args.sandbox:  # the demo's: a local Stripe in this process instead of the gateway block
        from blocks.payment_gateway import PaymentGateway
        from sandbox.stripe_api import SANDBOX_SECRET_KEY, SANDBOX_WEBHOOK_SECRET, StripeTestServer

        stripe = StripeTestServer()
        stripe.start()
        stripe.add_webhook(f"http://{args.host}:{args.port}/stripe/webhook")
        gateway = PaymentGateway(secret_key=SecretStr(SANDBOX_SECRET_KEY), publishable_key="pk_test_arpilot_sandbox",
                                 webhook_secret=SecretStr(SANDBOX_WEBHOOK_SECRET), api_base=stripe.base_url)
    else:
        gateway = load_block(args.gateway)
    app = create_app(load_block(args.portal), gateway, company, warehouse.engine())
    # No access log: every pay link's path is its customer's key to the page.
    uvicorn.run(app, host=args.host, port=args.port, proxy_headers=True, forwarded_allow_ips=args.proxy,
                access_log=False)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="arpilot", description="Accounts-receivable autopilot on Prefect.")
    commands = parser.add_subparsers(dest="command", required=True)
    demo_cmd = commands.add_parser("demo", help="run the nightly job end to end on a generated sample ERP")
    demo_cmd.add_argument("--invoices", type=int, default=20_000, help="size of the sample ERP (default 20,000)")
    demo_cmd.add_argument("--seed", type=int, default=7)
    commands.add_parser("sample-erp", help="write a sample ERP database", add_help=False)
    from blocks import DEFAULT_COMPANY, DEFAULT_GATEWAY, DEFAULT_PORTAL, DEFAULT_WAREHOUSE

    serve_cmd = commands.add_parser("serve", help="the pay portal and Stripe's webhooks")
    serve_cmd.add_argument("--host", default="127.0.0.1")
    serve_cmd.add_argument("--port", type=int, default=8000)
    serve_cmd.add_argument("--sandbox", action="store_true", help="charge a local Stripe (the demo), not the "
                                                                   "gateway block")
    serve_cmd.add_argument("--proxy", default="127.0.0.1", help="address of the TLS proxy whose X-Forwarded-* "
                                                                "headers are trusted")
    for name, default in (("portal", DEFAULT_PORTAL), ("gateway", DEFAULT_GATEWAY), ("company", DEFAULT_COMPANY),
                          ("warehouse", DEFAULT_WAREHOUSE)):
        serve_cmd.add_argument(f"--{name}", default=default, help=f"block (default {default})")
    args, rest = parser.parse_known_args(argv)
    if args.command == "sample-erp":
        from sandbox.sample_erp import main as sample_erp_main

        return sample_erp_main(rest)
    if rest:
        parser.error(f"unrecognised arguments: {' '.join(rest)}")
    if args.command == "serve":
        return serve(args)
    return demo(args.invoices, args.seed)


if __name__ == "__main__":
    sys.exit(main())
