"""The nightly's heads-up to sales as a Prefect task: pick the accounts, record that their reps were asked, start
one sales-review run per rep and day where that deployment exists, email each rep once, and publish who was
asked about what for the controller (artifact sales-heads-up)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime

import pandas as pd
from prefect import get_run_logger, task
from prefect.artifacts import create_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.client.schemas.objects import FlowRun
from prefect.deployments import run_deployment
from prefect.exceptions import ObjectNotFound

from blocks.company import CompanyProfile
from blocks.dunning_policy import DunningPolicy
from blocks.email_channel import EmailChannel
from blocks.escalation_policy import EscalationPolicy
from blocks.warehouse import ArWarehouse
from tasks.sales.heads_up import accounts_to_ask
from tasks.sales.reviews import asked_keys, open_accounts, read_story, record_asks
from tasks.sales.story import RepLetter, heads_up_notice, letters
from tasks.staff_mail import StaffMailResult, run_url, send_staff_notices

REVIEW_DEPLOYMENT = "sales-review/sales-review"
REVIEW_FIELDS = ("customer_id", "customer_name", "currency", "step", "final_on")


@dataclass
class SalesHeadsUp:
    asked: pd.DataFrame  # the accounts asked about tonight (heads_up.ASK_COLUMNS)
    letters: list[RepLetter] = field(default_factory=list)  # every rep and day still awaiting an answer
    runs: dict[str, FlowRun] = field(default_factory=dict)  # letter key -> its sales-review run
    mail: StaffMailResult = field(default_factory=StaffMailResult)


def start_review(letter: RepLetter, blocks: dict[str, str]) -> FlowRun | None:
    """The rep's sales-review run (one per rep and day, found again by its idempotency key on a rerun); None when
    no sales-review deployment exists (the demo, the tests): the email then says how to answer by CLI."""
    try:
        return run_deployment(REVIEW_DEPLOYMENT, timeout=0, as_subflow=False,
                              idempotency_key=f"sales-review|{blocks['warehouse']}|{letter.key}",
                              parameters={"sales_rep": letter.sales_rep, "asked_on": letter.asked_on.isoformat(),
                                          "accounts": [{k: a[k] for k in REVIEW_FIELDS} for a in letter.accounts],
                                          **blocks})
    except ObjectNotFound:
        return None


@task(name="ask-sales-reps", cache_policy=NO_CACHE)
def ask_sales_reps(store: ArWarehouse, company: CompanyProfile, dunning_policy: DunningPolicy,
                   escalation: EscalationPolicy, sales_reps: dict[str, str], email: EmailChannel, email_name: str,
                   now: datetime, run_id: str, blocks: dict[str, str]) -> SalesHeadsUp:
    """Ask tonight's reps (asked at ``now``); the email of a rep and day the relay refused earlier is sent again
    (same key)."""
    today = company.today(now)
    engine = store.engine()
    with engine.begin() as conn:
        invoices, customers = open_accounts(conn, today)
        asked = accounts_to_ask(invoices, customers, asked_keys(conn, today), dunning_policy,
                                escalation.sales_heads_up_days, today)
        record_asks(conn, asked, now.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S"))
        story = read_story(conn, today)
    result = SalesHeadsUp(asked, letters(story, sales_reps, escalation.ar_managers, company, today))
    notices = []
    for letter in result.letters:
        run = start_review(letter, blocks)
        if run:
            result.runs[letter.key] = run
        notices.append(heads_up_notice(letter, company, escalation.sales_hold_days, escalation.sales_answer_hours,
                                       run_url(run.id if run else None)))
    result.mail = send_staff_notices(engine, email, email_name, notices, run_id, company.legal_name)
    engine.dispose()
    _publish(result, today)
    return result


def _publish(result: SalesHeadsUp, today: date) -> None:
    status = {n.key: "sent" for n in result.mail.sent} | {n.key: "sent earlier" for n in result.mail.already} | \
        {n.key: f"{s}: {reason}" for n, s, reason in result.mail.unsent}
    rows = [{"Sales rep": letter.sales_rep or "(none in the ledger)", "Asked on": letter.asked_on.isoformat(),
             "Customer": f"{a['customer_name']} ({a['customer_id']})", "Currency": a["currency"],
             "Final notice": f"step {a['step']} on {a['final_on']}", "Open": a["open"],
             "Emailed to": "; ".join(letter.to) + ("" if letter.addressed else " (AR managers: the rep has no "
                                                                               "address in the report recipients)"),
             "Email": status.get(letter.key, "not sent"),
             "Answer in": result.runs[letter.key].name if letter.key in result.runs else "arpilot sales decide"}
            for letter in result.letters for a in letter.accounts]
    unaddressed = sorted({letter.sales_rep or "(none)" for letter in result.letters if not letter.addressed})
    create_table_artifact(rows, key="sales-heads-up", description=(
        f"Final notices awaiting the sales rep's answer on {today}: {len(result.asked)} account(s) asked tonight, "
        f"{len(rows)} awaiting; silence means proceed."
        + (f" Reps without an address (AR managers asked instead): {', '.join(unaddressed)}." if unaddressed else "")))
    get_run_logger().info("Sales heads-up: %d account(s) asked tonight, %d awaiting an answer, %d email(s) sent",
                          len(result.asked), len(rows), len(result.mail.sent))
