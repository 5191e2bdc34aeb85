"""The nightly AR run: sync the ledger into the warehouse, check the AP contacts and gate sending, then dun."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from prefect import flow, get_run_logger
from prefect.client.schemas.objects import FlowRun
from prefect.runtime import flow_run

from blocks import (
    DEFAULT_COMPANY,
    DEFAULT_CONTACT_POLICY,
    DEFAULT_DUNNING_POLICY,
    DEFAULT_EMAIL,
    DEFAULT_LEDGER,
    DEFAULT_RECIPIENTS,
    DEFAULT_TWILIO,
    DEFAULT_WAREHOUSE,
    company_today,
    load_block,
)
from blocks.company import CompanyProfile
from blocks.contact_policy import ContactPolicy
from blocks.ledger import SqlLedgerSource
from flows.charges import autopay_charges
from flows.disputes import DisputeEscalation, record_and_check_disputes
from flows.dunning import dunning, send_instant
from flows.promises import review_promises
from flows.sales_review import sales_heads_up
from tasks.charges.results import AutopaySummary
from tasks.charges.scheduling import schedule_charges
from tasks.contacts.checks import ContactCheck, check_contacts, enforce_contact_gate, normalize_changed_contacts
from tasks.contacts.quality import GateDecision
from tasks.credit.watch import CreditWatch, note_erp_imports, watch_credit
from tasks.dunning.plan import DunningPlan
from tasks.dunning.results import DunningSummary
from tasks.kpi.reports import snapshot_kpis
from tasks.ledger.entities import ENTITIES
from tasks.ledger.sources import ledger_reader
from tasks.ledger.sync import EntitySync, publish_sync_artifacts, sync_ledger_entity
from tasks.portal.summary import publish_portal_payments
from tasks.promises.review import PromiseReview
from tasks.sales.asking import SalesHeadsUp
from tasks.scale_out import THREADS


@dataclass
class NightlyResult:
    sync: list[EntitySync]
    contacts: ContactCheck
    gate: GateDecision
    dunning: DunningSummary | DunningPlan
    autopay: FlowRun | AutopaySummary | None = None  # the scheduled charge run, or today's charges run here
    disputes: DisputeEscalation | None = None
    promises: PromiseReview | None = None
    sales: SalesHeadsUp | None = None
    credit: CreditWatch | None = None


def _run_name() -> str:
    """nightly-YYYY-MM-DD, by the company's calendar (UTC when the company block cannot be loaded)."""
    params = flow_run.parameters
    now = datetime.fromisoformat(str(params["now"])) if params.get("now") else None
    day = params.get("run_date") or company_today(params.get("company", DEFAULT_COMPANY), now)
    return f"nightly-{day}"


@flow(name="nightly", flow_run_name=_run_name)
def nightly(
    ledger: str = DEFAULT_LEDGER,
    warehouse: str = DEFAULT_WAREHOUSE,
    company: str = DEFAULT_COMPANY,
    contact_policy: str = DEFAULT_CONTACT_POLICY,
    dunning_policy: str = DEFAULT_DUNNING_POLICY,
    email_channel: str | None = DEFAULT_EMAIL,
    twilio_channel: str | None = DEFAULT_TWILIO,
    run_date: date | None = None,
    now: datetime | None = None,
    dry_run: bool = False,
    confirm_deleted_invoices: int = 0,
    payment_gateway: str | None = None,
    autopay_policy: str | None = None,
    escalation_policy: str | None = None,
    recipients: str = DEFAULT_RECIPIENTS,
    credit_policy: str | None = None,
    task_runner: str = THREADS,
) -> NightlyResult:
    """Sync the AR ledger into the warehouse, check the AP contacts (a closed gate fails the run there), send
    today's reminders, and record tonight's KPI snapshot (history for the trend reports).

    The other parameters name block documents as "block-type-slug/name", editable in the UI. run_date
    defaults to today in the company's time zone; now is the instant send windows are judged at (default:
    now, or noon of run_date). dry_run plans the reminders and sends nothing. confirm_deleted_invoices lets
    this run mark up to that many invoices deleted where the ledger block's deletion guard would stop it (a
    deliberate clean-up in the ledger; the stopped run's message gives the number). payment_gateway and
    autopay_policy switch autopay on: the next charge day's autopay-charges run is scheduled (or, where that
    deployment does not exist, today's charges are taken here, before dunning). escalation_policy switches on
    dispute escalation (new and resolved disputes are announced as events right after the sync; the AR manager,
    sales reps, from the recipients block, and escalation levels are told), the review of promises to pay
    (grace on holds, kept and broken ones announced; without it the ledger's promise dates hold reminders, as
    always) and the sales reps' heads-up before an account's final notice (flows/sales_review.py), before
    dunning. credit_policy switches on the credit watch before dunning: customers over their limit (the collector
    and the sales rep told once per breach) and the events that start a credit review early. task_runner: where
    contact normalisation and the send batches run: "threads" in this process (the default), "dask" (a Dask cluster
    on this machine for the run), a Dask scheduler address (tcp://host:8786) or an arpilot-dask-cluster block.
    """
    logger = get_run_logger()
    profile: CompanyProfile = load_block(company)
    source = load_block(ledger)
    reader = ledger_reader(source)
    store = load_block(warehouse)
    policy: ContactPolicy = load_block(contact_policy)
    scorecard = load_block(credit_policy) if credit_policy else None  # a missing block stops the run before the sync
    as_of = run_date or profile.today(now)
    logger.info("Nightly run for %s on %s: ledger %s -> warehouse %s", profile.legal_name, as_of,
                reader.describe(), store.describe())

    run_id = str(flow_run.id)
    retries = source.retries if isinstance(source, SqlLedgerSource) else 0
    delay = source.retry_delay_seconds if isinstance(source, SqlLedgerSource) else 0
    sync = sync_ledger_entity.with_options(retries=retries, retry_delay_seconds=[delay * 2**i for i in range(retries)])
    results = [
        sync(source, store, entity.name, run_id, profile.default_currency, confirm_deleted_invoices)
        for entity in ENTITIES
        if reader.provides(entity.name)
    ]
    publish_sync_artifacts(results, reader.describe(), run_id)
    disputes = record_and_check_disputes(warehouse, store.engine(), as_of, {
        "company": company, "escalation_policy": escalation_policy if email_channel and not dry_run else None,
        "recipients": recipients, "dunning_policy": dunning_policy, "email_channel": email_channel})
    normalize_changed_contacts(store, profile.time_zone, task_runner)
    check = check_contacts(store, policy, contact_policy, as_of, run_id, profile.locale)
    gate = enforce_contact_gate(check)
    promises = sales = None
    if escalation_policy and not dry_run:  # promises to pay: holds with grace; kept and broken ones announced once
        promises = review_promises(warehouse, company, escalation_policy, email_channel, as_of, recipients)
    autopay = None
    if payment_gateway and autopay_policy and not dry_run:
        blocks = {"warehouse": warehouse, "company": company, "gateway": payment_gateway,
                  "autopay_policy": autopay_policy}
        autopay = schedule_charges(store, profile, load_block(autopay_policy), as_of, blocks)
        if autopay is None:  # no deployment (the demo, the tests): take today's charges now
            autopay = autopay_charges(charge_day=as_of, **blocks)
    publish_portal_payments(store.engine(), as_of - timedelta(days=1))
    if escalation_policy and not dry_run:  # the reps' earlier answers are in before dunning plans
        sales = sales_heads_up(warehouse, company, dunning_policy, escalation_policy, recipients, email_channel,
                       run_date=run_date, now=now)
    credit = None
    if not dry_run:  # approved credit changes the ERP has imported: its word is in force from now on
        note_erp_imports(store, as_of)
    if scorecard and not dry_run:
        credit = watch_credit(store, profile, scorecard, load_block(recipients),
                              load_block(email_channel) if email_channel else None, email_channel, as_of, run_id)
    reminders = dunning(warehouse, company, dunning_policy, contact_policy, email_channel, twilio_channel,
                        send_instant(profile, now, run_date), dry_run, task_runner)
    snapshot_kpis(store, profile, as_of, run_id)
    return NightlyResult(results, check, gate, reminders, autopay, disputes, promises, sales, credit)
