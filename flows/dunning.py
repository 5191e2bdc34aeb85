"""The dunning run: age, settle what a stopped run left, plan, then send by aging bucket in bounded batches.

Plans and batches hold thousands of messages. Plans are passed to tasks inside quote() so Prefect does not walk every
message looking for futures (at a million invoices that walk cost more than the sending); a Batch is an object neither
Prefect nor Dask walks into. The batches run on the task runner the task_runner parameter names (tasks/scale_out.py).
"""

from __future__ import annotations

from datetime import datetime, time
from zoneinfo import ZoneInfo

from prefect import flow, get_run_logger, unmapped
from prefect.runtime import flow_run
from prefect.utilities.annotations import quote

from blocks import (
    DEFAULT_COMPANY,
    DEFAULT_CONTACT_POLICY,
    DEFAULT_DUNNING_POLICY,
    DEFAULT_EMAIL,
    DEFAULT_TWILIO,
    DEFAULT_WAREHOUSE,
    company_today,
    load_block,
)
from blocks.company import CompanyProfile
from blocks.contact_policy import ContactPolicy
from blocks.dunning_policy import DunningPolicy
from blocks.runbook import runbook
from tasks.dunning.messages import TemplateDirMissing, template_folders
from tasks.dunning.plan import Batch, DunningPlan, make_batches
from tasks.dunning.planning import (
    age_open_invoices,
    plan_autopay_notices,
    plan_day,
    plan_invoice_delivery,
    plan_promise_notices_task,
)
from tasks.dunning.reconcile import reconcile_outbox
from tasks.dunning.results import DunningSummary, bucket_order, publish_dunning
from tasks.dunning.sending import send_batch, send_escalations
from tasks.promises.notices import with_promise_notices
from tasks.scale_out import THREADS, choose_task_runner, describe_runner

SEND_WORKERS = 4  # send batches in flight at once; each holds one SMTP connection and one Twilio client


class DunningMisconfigured(ValueError):
    """The blocks disagree: dunning would use a channel nothing is configured or checked for."""

    def __init__(self, problem: str):
        super().__init__(f"{problem}. {runbook('dunning-misconfigured')}")


def send_instant(company: CompanyProfile, now: datetime | None, run_date=None) -> datetime:
    """The instant local windows are judged at: now, or noon of run_date in the company's zone (a re-run)."""
    if now:
        return now
    if run_date:
        return datetime.combine(run_date, time(12), ZoneInfo(company.time_zone))
    return datetime.now(ZoneInfo(company.time_zone))


def _run_name() -> str:
    params = flow_run.parameters
    now = datetime.fromisoformat(str(params["now"])) if params.get("now") else None
    day = company_today(params.get("company", DEFAULT_COMPANY), now)
    return f"dunning-{day}" + ("-dry-run" if params.get("dry_run") else "")


def check_channels(policy: DunningPolicy, contacts: ContactPolicy, contact_policy: str, email, twilio,
                   dunning_policy: str) -> None:
    """Fail before anything is planned when a step uses a channel that is not configured or not gated."""
    unchecked = [c for c in policy.contact_channels if c not in contacts.channels]
    if unchecked:
        raise DunningMisconfigured(
            f"dunning policy {dunning_policy} sends {', '.join(unchecked)}, but contact policy {contact_policy} "
            f"does not check contacts for it; add it to that policy's gates or remove it from the steps")
    if policy.deliver_invoices_from and "email" not in contacts.channels:
        raise DunningMisconfigured(
            f"dunning policy {dunning_policy} delivers invoices by email, but contact policy {contact_policy} does "
            "not check contacts for email; add email to that policy's gates or clear deliver_invoices_from")
    used = {c for s in policy.steps for c in s.channels} | ({"email"} if policy.deliver_invoices_from else set())
    if used & {"email", "escalation"} and email is None:
        raise DunningMisconfigured(f"dunning policy {dunning_policy} sends email but no email channel block is "
                                   "given; create an arpilot email channel block and pass its name")
    if used & {"sms", "voice"} and twilio is None:
        raise DunningMisconfigured(f"dunning policy {dunning_policy} sends SMS or voice but no Twilio channel block "
                                   "is given; create an arpilot twilio channel block and pass its name")


def _unmapped(values: dict) -> dict:
    return {name: unmapped(value) for name, value in values.items()}


def _outcome(future):
    """A send task's result, or its exception; also when the process running it was lost (Dask's KilledWorker)."""
    try:
        return future.result(raise_on_failure=False)
    except Exception as error:
        return error


def check_templates(policy: DunningPolicy, dunning_policy: str) -> None:
    """Fail before anything is planned when the policy's own template folder is missing."""
    try:
        template_folders(policy.template_dir)
    except TemplateDirMissing as error:
        raise DunningMisconfigured(f"dunning policy {dunning_policy}: {error}; nothing was sent") from None


@flow(name="dunning", flow_run_name=_run_name)
def dunning(
    warehouse: str = DEFAULT_WAREHOUSE,
    company: str = DEFAULT_COMPANY,
    dunning_policy: str = DEFAULT_DUNNING_POLICY,
    contact_policy: str = DEFAULT_CONTACT_POLICY,
    email_channel: str | None = DEFAULT_EMAIL,
    twilio_channel: str | None = DEFAULT_TWILIO,
    now: datetime | None = None,
    dry_run: bool = False,
    task_runner: str = THREADS,
) -> DunningSummary | DunningPlan:
    """Send today's reminders. Run it after the nightly contact checks (the nightly flow calls it).

    now: the instant local send windows are judged at (default: now). dry_run: plan and publish the plan, send
    nothing. email_channel / twilio_channel may be empty when the policy uses no such channel. task_runner: where
    the send batches run: "threads" in this process, "dask" (a Dask cluster on this machine for the run), a Dask
    scheduler address (tcp://host:8786) or an arpilot-dask-cluster block.
    """
    logger = get_run_logger()
    profile: CompanyProfile = load_block(company)
    policy: DunningPolicy = load_block(dunning_policy)
    store = load_block(warehouse)
    email = load_block(email_channel) if email_channel else None
    twilio = load_block(twilio_channel) if twilio_channel else None
    check_channels(policy, load_block(contact_policy), contact_policy, email, twilio, dunning_policy)
    check_templates(policy, dunning_policy)
    runner = choose_task_runner(task_runner, SEND_WORKERS)  # an unknown choice stops the run before it plans
    instant = send_instant(profile, now)
    as_of = profile.today(instant)
    run_id = str(flow_run.id)

    reconciliation = reconcile_outbox(store, twilio, twilio_channel or "")
    state = age_open_invoices(store, profile, as_of)
    plan = plan_day(store, quote(state), policy, profile, instant, run_id, dry_run)
    deliveries = plan_invoice_delivery(store, quote(state), policy, profile, instant, run_id, dry_run)
    notices = with_promise_notices(plan_autopay_notices(store, quote(state), policy, profile, instant, run_id),
                                   plan_promise_notices_task(store, quote(state), policy, profile, instant, run_id))
    if dry_run:
        logger.info("Dry run: %d messages and %d invoices planned, nothing sent", len(plan.messages),
                    len(deliveries.messages))
        return plan
    escalations = [m for m in plan.messages if m.channel == "escalation"]
    outgoing = [m for m in plan.messages if m.channel != "escalation"] + deliveries.messages + notices.messages
    batches = make_batches(outgoing, bucket_order(profile), policy.batch_size, policy.max_batches)
    shared = {"store": store, "company": profile, "policy": policy, "email": email, "run_id": run_id}
    with runner:
        where = describe_runner(runner)
        logger.info("Sending %d batches on %s", len(batches), where)
        futures = runner.map(send_batch, {"batch": batches, **_unmapped(shared),
                                          "email_name": unmapped(email_channel or ""), "twilio": unmapped(twilio),
                                          "twilio_name": unmapped(twilio_channel or "")})
        if escalations:
            digest = Batch("escalation", 1, escalations)
            futures.append(runner.submit(send_escalations, {"escalations": digest, **shared,
                                                            "email_name": email_channel or ""}))
        results = [_outcome(f) for f in futures]
    done = [r for r in results if not isinstance(r, BaseException)]
    targets = ", ".join(b.describe() for b in (email, twilio) if b) or "no channel"
    summary = publish_dunning(quote(plan), quote(done), reconciliation, policy, profile,
                              f"{targets}; the batches ran on {where}", quote(deliveries), quote(notices))
    failed = [r for r in results if isinstance(r, BaseException)]
    if failed:
        raise RuntimeError(f"{len(failed)} of {len(futures)} send tasks failed; the first: {failed[0]}. Messages "
                           f"they had not sent were released and go out on the next run. {runbook('send-tasks-failed')}")
    return summary
