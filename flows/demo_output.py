"""What `arpilot demo` prints: each stage's figures as a person reads them (rich tables on the terminal)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from rich.console import Console
from rich.table import Table

from flows.local_prefect import PROJECT_ROOT


def sync_table(title: str, results) -> Table:
    table = Table(title=title, title_justify="left")
    for column in ("entity", "read", "inserted", "updated", "unchanged", "quarantined", "deleted"):
        table.add_column(column, justify="left" if column == "entity" else "right")
    for r in results:
        table.add_row(r.entity, *(f"{getattr(r, c):,}" for c in ("read", "inserted", "updated", "unchanged",
                                                                   "quarantined", "deleted")))
    return table


def reasons_table(results) -> Table:
    table = Table(title="Quarantined ledger rows by reason", title_justify="left")
    table.add_column("entity")
    table.add_column("reason")
    table.add_column("rows", justify="right")
    for r in results:
        for reason, rows in r.quarantine_reasons.items():
            table.add_row(r.entity, reason, f"{rows:,}")
    return table


def contact_table(title: str, check) -> Table:
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


def print_contacts(console: Console, check) -> None:
    d = check.decision
    console.print(contact_table("AP contact checks of customers with an open balance (Great Expectations suites "
                                 "ap_customers, ap_contacts)", check))
    state = "[red]closed: dunning would not run" if d.closed else "[green]open"
    console.print(f"Contact gate {state}[/]: {d.failing_rows:,} of {d.roster_rows:,} AP contacts of customers with "
                  f"an open balance fail a gating check ({d.failing_share:.1%}; limit {d.max_failing_share:.0%})")
    console.print("Customers with no usable contact, on their collector's manual list: "
                  + ", ".join(f"{channel} {n:,}" for channel, n in d.manual_customers.items()))
    console.print(_worklist_table(check))
    console.print(f"Worklists per collector (CSV): {check.worklists.relative_to(PROJECT_ROOT)}")
    console.print(f"GX Data Docs: {(check.data_docs / 'index.html').relative_to(PROJECT_ROOT)}")


def dunning_table(title: str, summary) -> Table:
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


def print_dunning(console: Console, summary, outbox: Path) -> None:
    console.print(dunning_table(f"Dunning on {summary.planned_on}: {summary.planned:,} messages planned", summary))
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
    print_deliveries(console, summary)


def print_deliveries(console: Console, summary) -> None:
    d = summary.deliveries
    reasons = ", ".join(f"{reason} {n:,}" for reason, n in d.unsent["reason"].value_counts().items())
    console.print(f"Invoices delivered when issued (open invoices issued since {d.since}): "
                  f"{summary.count('sent', 'invoice'):,} delivered with their PDF, {d.delivered_before:,} by an "
                  f"earlier run, {summary.invoices_unsent:,} still unsent" + (f" ({reasons})" if reasons else ""),
                  highlight=False)


def print_reports(console: Console, run, seconds: float) -> None:
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
    if run.one_pager is not None:
        from tasks.kpi.one_pager import company_headline

        console.print(company_headline(run.one_pager, "en_US"), highlight=False)
        console.print("Page 1 of executive.pdf is the one-pager: these figures against the targets, the trend "
                      "against the month before and the things to act on; each currency's detail follows from page 2",
                      highlight=False)
    folder = run.reports[0].pdf.parent
    console.print(f"{len(run.reports)} reports (PDF and HTML) in {folder.relative_to(PROJECT_ROOT)}, e.g. "
                  f"{run.reports[0].pdf.name}; each emailed to its audience (the .eml files in the outbox)")


def print_autopay_plan(console: Console, plan, locale: str = "en_US") -> None:
    """The charges a run is about to take, and who is not charged and why."""
    from reports.formats import money

    table = Table(title=f"Autopay charges for {plan.charge_day}: {len(plan.charges)} to take", title_justify="left")
    for column in ("customer", "amount", "invoices", "method", "attempt"):
        table.add_column(column, justify="right" if column in ("amount", "invoices", "attempt") else "left")
    for c in plan.charges[:12]:
        table.add_row(c.customer_id, money(c.amount_cents, c.currency, locale), f"{len(c.invoices)}",
                      f"{c.method_type} ••••{c.last4 or '?'}", f"{c.attempt}")
    console.print(table)
    for s in plan.skipped:
        console.print(f"  not charged: {s.customer_id} {money(s.amount_cents, s.currency, locale)}: {s.reason}"
                      + (" (collector told)" if s.tell_collector else ""), highlight=False)


def print_autopay_results(console: Console, summary, locale: str = "en_US") -> None:
    from reports.formats import money

    table = Table(title=f"Autopay charges of {summary.charge_day}", title_justify="left")
    for column in ("status", "currency", "charges", "amount"):
        table.add_column(column, justify="right" if column in ("charges", "amount") else "left")
    for r in summary.outcomes.itertuples(index=False):
        table.add_row(r.status, r.currency, f"{int(r.charges):,}", money(int(r.amount_cents), r.currency, locale))
    console.print(table)
    console.print(f"Paid charges are in the warehouse at once (payments and allocations) and in the ERP export "
                  f"{summary.export.relative_to(PROJECT_ROOT)}; bank debits stay processing until the bank settles "
                  "them (each charge run polls them, Stripe's webhook settles them at once); declined customers "
                  "are told by email (channel autopay above) and put on their collector's call list",
                  highlight=False)


def print_follow_ups(console: Console, night) -> None:
    """Disputes, promises to pay and the sales reps' heads-up: who on the staff heard what tonight."""
    d, p, s = night.disputes, night.promises, night.sales
    if d is not None:
        sent = Counter(n.kind for n in d.mail.sent)
        console.print(f"Disputes: {d.opened:,} newly seen (each an arpilot.invoice.disputed event; in production the "
                      f"dispute-escalation trigger answers within a minute), {d.resolved:,} resolved, {d.levels:,} "
                      f"escalated by days open. Emails to the AR manager and sales reps: "
                      f"{', '.join(f'{v:,} {k}' for k, v in sorted(sent.items())) or 'none'}; "
                      f"{len(d.mail.unsent):,} not sent; each dispute is on its collector's worklist", highlight=False)
    if p is not None:
        console.print(f"Promises to pay: {p.recorded:,} recorded from the ledger, {p.kept:,} kept (a thank-you "
                      f"goes out), {p.broken:,} broken (a firm email, a call task first on the collector's list, "
                      f"an arpilot.promise.broken event), {len(p.staff.sent):,} sales rep(s) told of repeats",
                      highlight=False)
    if night.credit is not None:
        c = night.credit
        console.print(f"Credit watch: {len(c.over):,} customer(s) over their credit limit ({len(c.new):,} new tonight: "
                      f"collector and sales rep told once per breach, {len(c.mail.sent):,} email(s)); "
                      f"{len(c.events):,} event(s) that start a customer's credit review early "
                      f"({', '.join(sorted({e.event.rsplit('.', 1)[1] for e in c.events})) or 'none'})",
                      highlight=False)
    if s is not None:
        console.print(f"Sales before the final notice: {len(s.asked):,} account(s) reach a final step soon; "
                      f"{len(s.mail.sent):,} email(s) to their sales reps (proceed, hold 14 days or soften; "
                      "silence proceeds)", highlight=False)


def print_ivr_call(console: Console, caller: str, call, steps, texts: list[Path]) -> None:
    """The call as a short transcript (the caller's number masked), and where it is logged."""
    from rich.markup import escape

    from tasks.contacts.quality import mask

    console.print(f"IVR call {call.call_sid} from {mask(caller)}, keys {' '.join(call.keys) or 'none'}:",
                  highlight=False)
    heard = set()
    for said in call.said:
        again = said.text in heard  # the menu after each answer: shortened
        heard.add(said.text)
        text = f"(again) {said.text[:48]}..." if again and len(said.text) > 60 else said.text
        console.print(f"  [dim]{said.language}[/] {escape(text)}", highlight=False)
    for turn, choice, outcome in steps:
        console.print(f"  logged, turn {turn}: {choice}: {escape(outcome)}", highlight=False)
    sent = ", ".join(str(t.relative_to(PROJECT_ROOT)) for t in texts)
    console.print("Logged in the warehouse's ivr_calls and ivr_call_steps (texts sent: ivr_sends; voicemails: "
                  "ivr_voicemails and the collector's worklist)" + (f"; the text as Twilio got it: {sent}" if sent
                                                                    else ""), highlight=False)



def print_credit_review(console: Console, engine, review_id: str, exports: Path, seconds: float) -> None:
    """What the review proposed, who heard of it, and what the approval wrote and exported (to ``exports``)."""
    import sqlalchemy as sa

    with engine.connect() as conn:
        proposals = dict(conn.execute(sa.text(
            "SELECT recommendation, COUNT(*) FROM credit_proposals WHERE review_id = :r GROUP BY recommendation"),
            {"r": review_id}).all())
        reps = conn.execute(sa.text("SELECT COUNT(*) FROM staff_notices WHERE kind = 'credit-proposals' AND "
                                    "notice_key LIKE :k AND status = 'sent'"), {"k": f"credit-proposals|{review_id}|%"}
                            ).scalar()
        changes = conn.execute(sa.text("SELECT COUNT(*), SUM(CASE WHEN hold_after AND NOT hold_before THEN 1 ELSE 0 "
                                       "END) FROM credit_limit_changes WHERE review_id = :r"), {"r": review_id}).one()
    export = sorted(exports.glob("credit-limits-*.csv"))
    console.print(f"Credit review ({seconds:.1f} s): proposals "
                  + ", ".join(f"{n:,} {what}" for what, n in sorted(proposals.items()))
                  + f"; {reps:,} sales rep(s) emailed their accounts' proposals. Approved by Dana Controller: "
                  f"{changes[0]:,} change(s) written with history, {changes[1] or 0:,} new credit hold(s) (firmer "
                  f"reminders, first on the collector's call list, the rep told); ERP import file: "
                  f"{export[-1].relative_to(PROJECT_ROOT) if export else 'none'}", highlight=False)
