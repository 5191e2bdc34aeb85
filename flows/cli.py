"""`arpilot`: the command line a finance-ops engineer uses before and beside the Prefect deployments.

  arpilot demo             generate a sample ERP, run the nightly job twice (full, then a day of changes): sync,
                           AP contact checks and the sending gate, autopay charges, aging and dunning to a local
                           SMTP relay, Twilio-compatible API and Stripe; print what happened and where it is
  arpilot sample-erp       write a sample ERP database (see sandbox/sample_erp/)
  arpilot serve            the pay portal, Stripe's webhooks and Twilio's (ASGI under uvicorn), over the named blocks
  arpilot autopay enroll   enrol a customer for autopay with a payment method the gateway already holds
  arpilot autopay revoke   stop charging a customer in a currency (the mandate is kept, revoked)
  arpilot sales decide     record a sales rep's answer about an account's final notice: proceed, hold, soften
  arpilot dispute resolve  record a person's decision on an invoice's dispute (credited, rejected, paid); the AR
                           manager and the sales rep are told
  arpilot promise record   record a customer's promise to pay (holds reminders until its date plus the grace)
  arpilot call start       ring a collector's line and bridge the customer's AP contact (recorded after a consent
                           announcement), unless the number opted out of calls or it is outside the contact's hours
  arpilot call outcome     set a call's outcome afterwards: reached, promise, dispute, wrong_number
  arpilot alerts install   create (or replace) the alert automations of automations.yaml on the Prefect server:
                           failed, crashed, timed-out and late runs emailed through the alert email block
"""

from __future__ import annotations

import argparse
import sys
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path

from flows.local_prefect import use_local_prefect

use_local_prefect()  # before blocks and flows import prefect


def serve(args: argparse.Namespace) -> int:
    """Run the pay portal (and, with a phone desk, Twilio's webhooks) until stopped; behind the company's TLS proxy
    in production."""
    import uvicorn

    from blocks import load_block
    from tasks.portal.app import create_app

    company, warehouse, portal = load_block(args.company), load_block(args.warehouse), load_block(args.portal)
    if args.sandbox:  # the demo's: a local Stripe in this process instead of the gateway block
        from flows.demo import demo_gateway, sandbox_stripe

        gateway = demo_gateway(sandbox_stripe(f"http://{args.host}:{args.port}/stripe/webhook").base_url)
    else:
        gateway = load_block(args.gateway)
    app = create_app(portal, gateway, company, warehouse.engine(), twilio=_phone_webhooks(args, company, portal))
    # No access log: every pay link's path is its customer's key to the page.
    uvicorn.run(app, host=args.host, port=args.port, proxy_headers=True, forwarded_allow_ips=args.proxy,
                access_log=False)
    return 0


def _phone_webhooks(args: argparse.Namespace, company, portal):
    """Twilio's webhooks over the phone desk block, at the portal's public address; None (and said so) when the
    default phone desk block does not exist, an error when a named one does not."""
    from blocks import DEFAULT_PHONE_DESK, BlockNotFound, load_block
    from tasks.selfservice.webhooks import TwilioWebhooks

    try:
        phone = load_block(args.phone_desk)
    except BlockNotFound:
        if args.phone_desk != DEFAULT_PHONE_DESK:
            raise
        print(f"Twilio's webhooks are off: no {DEFAULT_PHONE_DESK} block (README, The customer's phone)")
        return None
    grace = load_block(args.escalation_policy).promise_grace_days
    print(f"Twilio's webhooks answer at {portal.base_url}/twilio/... (voice, sms, status)")
    return TwilioWebhooks(phone, company, portal.base_url, grace)


def _amount(text: str) -> int:
    """A maximum per charge as typed ("5000", "5,000.00") in cents."""
    try:
        value = Decimal(text.replace(",", ""))
    except InvalidOperation:
        raise argparse.ArgumentTypeError(f"{text!r} is not an amount such as 5000.00") from None
    if value <= 0:
        raise argparse.ArgumentTypeError("the maximum per charge must be more than 0")
    return int((value * 100).to_integral_value())


def autopay(args: argparse.Namespace) -> int:
    from blocks import load_block
    from tasks.charges.mandates import EnrolmentRefused, enroll, revoke

    engine = load_block(args.warehouse).engine()
    if args.action == "revoke":
        with engine.begin() as conn:
            done = revoke(conn, args.customer, args.currency.upper())
        print(f"{args.customer} {args.currency.upper()}: " + ("mandate revoked; no further charges" if done
                                                              else "no active mandate"))
        return 0 if done else 1
    try:
        mandate = enroll(engine, load_block(args.gateway).client(), args.customer, args.currency, args.payment_method,
                         args.max, "cli")
    except EnrolmentRefused as refused:
        print(f"Not enrolled: {refused}", file=sys.stderr)
        return 1
    print(f"{mandate.customer_id} {mandate.currency}: autopay from {mandate.method_type} "
          f"••••{mandate.last4 or '?'} (gateway customer {mandate.gateway_customer}), at most "
          f"{Decimal(mandate.max_charge_cents) / 100:.2f} per charge; charged from the next charge day")
    return 0


def sales(args: argparse.Namespace) -> int:
    """The answer to a heads-up email when no sales-review run waits in the Prefect UI (or from a reply)."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from blocks import load_block
    from tasks.sales.reviews import Decision, record_decision

    company, hold_days = load_block(args.company), load_block(args.escalation_policy).sales_hold_days
    now = datetime.now(ZoneInfo(company.time_zone)).replace(microsecond=0)
    decision = Decision(args.customer, args.currency.upper(), args.choice, args.by, args.reason)
    engine = load_block(args.warehouse).engine()
    with engine.begin() as conn:
        done = record_decision(conn, decision, now, company.today(now), hold_days)
    if done.refused:
        print(f"Not recorded: {done.refused}", file=sys.stderr)
        return 1
    print(f"{decision.customer_id} {decision.currency}: {decision.choice} recorded for the final notice (step "
          f"{done.step}) on {done.final_on}, by {decision.decided_by}"
          + (f"; reminders held until {done.hold_until}" if done.hold_until else ""))
    return 0


def dispute(args: argparse.Namespace) -> int:
    """A person's decision on a dispute, as the resolve-dispute flow records it (a run in the Prefect UI)."""
    from flows.disputes import resolve_dispute
    from tasks.disputes.records import NoOpenDispute

    try:
        dispute_id = resolve_dispute(args.invoice, args.outcome, args.by, args.note, warehouse=args.warehouse,
                                     company=args.company, escalation_policy=args.escalation_policy,
                                     recipients=args.recipients, dunning_policy=args.dunning_policy,
                                     email_channel=args.email_channel)
    except (NoOpenDispute, ValueError) as error:
        print(f"Not recorded: {error}", file=sys.stderr)
        return 1
    print(f"Dispute {dispute_id}: {args.outcome}, decided by {args.by}; the AR manager and the sales rep are told")
    return 0


def credit(args: argparse.Namespace) -> int:
    """A sales rep's comment on a credit proposal before the decision; the approver reads it in the review run's
    credit-review-comments artifact."""
    from blocks import load_block
    from tasks.credit.comments import publish_comments
    from tasks.credit.records import record_comment

    engine = load_block(args.warehouse).engine()
    with engine.begin() as conn:
        refused = record_comment(conn, args.review, args.customer, args.by, args.comment)
    if refused:
        print(f"Not recorded: {refused}", file=sys.stderr)
        return 1
    publish_comments(engine, args.review)
    print(f"Comment on {args.customer} recorded for review {args.review}; the approver sees it in the run's "
          "credit-review-comments artifact")
    return 0


def _promised_amount(text: str) -> Decimal:
    """An amount as typed ("1250", "1,250.00")."""
    try:
        return Decimal(text.replace(",", ""))
    except InvalidOperation:
        raise argparse.ArgumentTypeError(f"{text!r} is not an amount such as 1250.00") from None


def promise(args: argparse.Namespace) -> int:
    from blocks import load_block
    from tasks.promises.records import PromiseRefused, record_promise

    grace = load_block(args.escalation_policy).promise_grace_days
    company = load_block(args.company)
    engine = load_block(args.warehouse).engine()
    try:
        with engine.begin() as conn:
            recorded = record_promise(conn, args.customer, args.currency, args.amount, args.on, args.source, args.by,
                                      args.note, company.today(), grace)
    except PromiseRefused as refused:
        print(f"Not recorded: {refused}", file=sys.stderr)
        return 1
    print(f"{recorded.customer_id} {recorded.currency}: promise {recorded.promise_id} to pay "
          f"{Decimal(recorded.amount_cents) / 100:.2f} by {recorded.promised_for}; reminders held until "
          f"{recorded.hold_until}")
    return 0


def call(args: argparse.Namespace) -> int:
    """A collector's call from the call list, or its outcome set afterwards."""
    from blocks import load_block
    from tasks.contacts.quality import mask
    from tasks.selfservice.calls import CallRefused, record_outcome, start_call

    engine = load_block(args.warehouse).engine()
    if args.action == "outcome":
        try:
            with engine.begin() as conn:
                words = record_outcome(conn, args.call, args.outcome, args.by, args.note)
        except ValueError as error:
            print(f"Not recorded: {error}", file=sys.stderr)
            return 1
        print(f"Call {args.call}: {words}, set by {args.by}")
        return 0
    phone, company, portal = load_block(args.phone_desk), load_block(args.company), load_block(args.portal)
    try:
        started = start_call(engine, phone, company, portal.base_url, args.collector, args.customer, args.contact)
    except CallRefused as refused:
        print(f"Not called: {refused}", file=sys.stderr)
        return 1
    t = started.target
    print(f"Call {started.call_id}: " + ("already started; nobody rung again" if started.already else
                                         f"ringing {mask(started.collector_line)}, then {t.customer_name} "
                                         f"({t.contact_name or t.contact_id}, {mask(t.number)})"))
    return 0


def alerts(args: argparse.Namespace) -> int:
    import asyncio

    from tasks.alerts.automations import AlertsNotInstalled, install_automations

    try:
        names = asyncio.run(install_automations(args.file))
    except AlertsNotInstalled as error:
        print(error, file=sys.stderr)
        return 1
    print("Installed automations: " + ", ".join(names))
    return 0


def main(argv: list[str] | None = None) -> int:
    from blocks import (
        DEFAULT_COMPANY,
        DEFAULT_DUNNING_POLICY,
        DEFAULT_EMAIL,
        DEFAULT_ESCALATION_POLICY,
        DEFAULT_GATEWAY,
        DEFAULT_PHONE_DESK,
        DEFAULT_PORTAL,
        DEFAULT_RECIPIENTS,
        DEFAULT_WAREHOUSE,
    )
    from tasks.alerts.automations import AUTOMATIONS_FILE

    parser = argparse.ArgumentParser(prog="arpilot", description="Accounts-receivable autopilot on Prefect.")
    commands = parser.add_subparsers(dest="command", required=True)
    demo_cmd = commands.add_parser("demo", help="run the nightly job end to end on a generated sample ERP")
    demo_cmd.add_argument("--invoices", type=int, default=20_000, help="size of the sample ERP (default 20,000)")
    demo_cmd.add_argument("--seed", type=int, default=7)
    commands.add_parser("sample-erp", help="write a sample ERP database", add_help=False)

    serve_cmd = commands.add_parser("serve", help="the pay portal, Stripe's webhooks and Twilio's")
    serve_cmd.add_argument("--host", default="127.0.0.1")
    serve_cmd.add_argument("--port", type=int, default=8000)
    serve_cmd.add_argument("--sandbox", action="store_true", help="charge a local Stripe (the demo), not the "
                                                                   "gateway block")
    serve_cmd.add_argument("--proxy", default="127.0.0.1", help="address of the TLS proxy whose X-Forwarded-* "
                                                                "headers are trusted")
    autopay_cmd = commands.add_parser("autopay", help="enrol or revoke autopay mandates")
    autopay_cmd.add_argument("action", choices=("enroll", "revoke"))
    autopay_cmd.add_argument("--customer", required=True, help="customer id as in the ledger")
    autopay_cmd.add_argument("--currency", required=True, help="the mandate pays invoices in this currency only")
    autopay_cmd.add_argument("--payment-method", help="the gateway's payment method id (pm_...), for enroll")
    autopay_cmd.add_argument("--max", type=_amount, help="maximum per charge, e.g. 5000.00, for enroll")
    sales_cmd = commands.add_parser("sales", help="record a sales rep's answer before a final notice")
    sales_cmd.add_argument("action", choices=("decide",))
    sales_cmd.add_argument("--customer", required=True, help="customer id as in the ledger")
    sales_cmd.add_argument("--currency", required=True, help="the account's currency")
    sales_cmd.add_argument("--choice", required=True, choices=("proceed", "hold", "soften"))
    sales_cmd.add_argument("--by", required=True, help="who decided (recorded with the decision)")
    sales_cmd.add_argument("--reason", default="", help="why (required for hold and soften)")
    dispute_cmd = commands.add_parser("dispute", help="record a person's decision on a dispute")
    dispute_cmd.add_argument("action", choices=("resolve",))
    dispute_cmd.add_argument("--invoice", required=True, help="the disputed invoice's number, as in the ledger")
    dispute_cmd.add_argument("--outcome", required=True, choices=("credited", "rejected", "paid"))
    dispute_cmd.add_argument("--by", required=True, help="who decided (recorded with the decision)")
    dispute_cmd.add_argument("--note", required=True, help="why, for the AR manager and the sales rep")
    promise_cmd = commands.add_parser("promise", help="record a customer's promise to pay")
    promise_cmd.add_argument("action", choices=("record",))
    promise_cmd.add_argument("--customer", required=True, help="customer id as in the ledger")
    promise_cmd.add_argument("--currency", required=True, help="currency of the invoices it pays")
    promise_cmd.add_argument("--amount", required=True, type=_promised_amount, help="amount promised, e.g. 1250.00")
    promise_cmd.add_argument("--on", required=True, type=date.fromisoformat, help="date promised, YYYY-MM-DD")
    promise_cmd.add_argument("--by", required=True, help="who took the promise")
    promise_cmd.add_argument("--source", default="phone", choices=("collector", "phone", "portal", "sms"))
    promise_cmd.add_argument("--note")
    call_cmd = commands.add_parser("call", help="a collector's call to a customer, or its outcome afterwards")
    call_cmd.add_argument("action", choices=("start", "outcome"))
    call_cmd.add_argument("--collector", help="who calls (their line from the dunning policy), for start")
    call_cmd.add_argument("--customer", help="customer id as in the ledger, for start")
    call_cmd.add_argument("--contact", help="the contact to call (default: the call list's AP contact)")
    call_cmd.add_argument("--call", help="the call's id as start printed it, for outcome")
    call_cmd.add_argument("--outcome", choices=("reached", "promise", "dispute", "wrong_number"))
    call_cmd.add_argument("--by", help="who sets the outcome")
    call_cmd.add_argument("--note")
    credit_cmd = commands.add_parser("credit", help="comment on a credit review's proposal before the decision")
    credit_cmd.add_argument("action", choices=("comment",))
    credit_cmd.add_argument("--review", required=True, help="the review's id, as the sales rep's email gives it")
    credit_cmd.add_argument("--customer", required=True, help="customer id as in the ledger")
    credit_cmd.add_argument("--by", required=True, help="who comments")
    credit_cmd.add_argument("--comment", required=True)
    alerts_cmd = commands.add_parser("alerts", help="install the alert automations on the Prefect server")
    alerts_cmd.add_argument("action", choices=("install",))
    alerts_cmd.add_argument("--file", type=Path, default=AUTOMATIONS_FILE, help=f"default {AUTOMATIONS_FILE.name}")
    for command, blocks in ((serve_cmd, ("portal", "gateway", "company", "warehouse", "phone-desk",
                                         "escalation-policy")),
                            (dispute_cmd, ("company", "warehouse", "escalation-policy", "recipients", "email-channel",
                                           "dunning-policy")),
                            (autopay_cmd, ("gateway", "warehouse")),
                            (promise_cmd, ("company", "warehouse", "escalation-policy")),
                            (sales_cmd, ("company", "warehouse", "escalation-policy")),
                            (call_cmd, ("phone-desk", "company", "warehouse", "portal")),
                            (credit_cmd, ("warehouse",))):
        for name in blocks:
            default = {"portal": DEFAULT_PORTAL, "gateway": DEFAULT_GATEWAY, "company": DEFAULT_COMPANY,
                       "warehouse": DEFAULT_WAREHOUSE, "escalation-policy": DEFAULT_ESCALATION_POLICY,
                       "recipients": DEFAULT_RECIPIENTS, "email-channel": DEFAULT_EMAIL,
                       "dunning-policy": DEFAULT_DUNNING_POLICY, "phone-desk": DEFAULT_PHONE_DESK}[name]
            command.add_argument(f"--{name}", default=default, help=f"block (default {default})")
    args, rest = parser.parse_known_args(argv)
    if args.command == "sample-erp":
        from sandbox.sample_erp import main as sample_erp_main

        return sample_erp_main(rest)
    if rest:
        parser.error(f"unrecognised arguments: {' '.join(rest)}")
    if args.command == "serve":
        return serve(args)
    if args.command == "autopay":
        if args.action == "enroll" and not (args.payment_method and args.max):
            parser.error("autopay enroll needs --payment-method and --max")
        return autopay(args)
    if args.command == "sales":
        return sales(args)
    if args.command == "dispute":
        return dispute(args)
    if args.command == "promise":
        return promise(args)
    if args.command == "credit":
        return credit(args)
    if args.command == "alerts":
        return alerts(args)
    if args.command == "call":
        needed = ("collector", "customer") if args.action == "start" else ("call", "outcome", "by")
        if missing := [f"--{name}" for name in needed if not getattr(args, name)]:
            parser.error(f"call {args.action} needs {' '.join(missing)}")
        return call(args)
    from flows.demo import demo

    return demo(args.invoices, args.seed)


if __name__ == "__main__":
    sys.exit(main())
