"""The autopay charge run: one per charge day, scheduled by the nightly at the company's charge time.

The controller sees the coming run as a Scheduled flow run in the UI, with who will be charged how much in its
parameters, and can cancel it before any money moves. The run itself plans again from the warehouse, so an
invoice paid or disputed since the schedule is not charged.
"""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from prefect import flow, get_run_logger, unmapped
from prefect.runtime import flow_run
from prefect.task_runners import ThreadPoolTaskRunner
from prefect.utilities.annotations import quote

from blocks import (
    DEFAULT_AUTOPAY_POLICY,
    DEFAULT_COMPANY,
    DEFAULT_GATEWAY,
    DEFAULT_LEDGER,
    DEFAULT_WAREHOUSE,
    company_today,
    load_block,
)
from blocks.autopay_policy import AutopayPolicy
from blocks.company import CompanyProfile
from blocks.ledger import SqlLedgerSource
from blocks.runbook import runbook
from tasks.charges.charging import plan_autopay, recover_charges, take_charges
from tasks.charges.results import AutopaySummary, ChargeResults, publish_autopay
from tasks.claims import checkpoint

CHARGE_WORKERS = 4  # batches of charges in flight at once


def _run_name() -> str:
    day = flow_run.parameters.get("charge_day")
    return f"autopay-charges-{day or company_today(flow_run.parameters.get('company', DEFAULT_COMPANY))}"


@flow(name="autopay-charges", flow_run_name=_run_name, task_runner=ThreadPoolTaskRunner(max_workers=CHARGE_WORKERS))
def autopay_charges(
    charge_day: date | None = None,
    warehouse: str = DEFAULT_WAREHOUSE,
    company: str = DEFAULT_COMPANY,
    gateway: str = DEFAULT_GATEWAY,
    autopay_policy: str = DEFAULT_AUTOPAY_POLICY,
    expected: list[dict] | None = None,
    ledger: str = DEFAULT_LEDGER,
) -> AutopaySummary:
    """Charge what autopay customers owe on charge_day (default: today in the company's time zone).

    expected: what the nightly foresaw when it scheduled this run (customer, currency, amount, invoices), shown in
    the UI; the run charges what is due when it runs and reports any difference. ledger: the SQL ledger the
    policy's write-back statement runs on (read only when the policy has one).
    """
    logger = get_run_logger()
    profile: CompanyProfile = load_block(company)
    policy: AutopayPolicy = load_block(autopay_policy)
    store, gateway_block = load_block(warehouse), load_block(gateway)
    erp = load_block(ledger) if policy.write_back_sql else None
    if erp is not None and not isinstance(erp, SqlLedgerSource):
        raise ValueError(f"autopay policy {autopay_policy} writes payments back by SQL, but ledger {ledger} is not a "
                         "SQL ledger; clear write_back_sql or name the SQL ledger block")
    day = charge_day or profile.today(datetime.now(ZoneInfo(profile.time_zone)))
    run_id = str(flow_run.id)

    recovered = recover_charges(store, gateway_block, policy, profile, run_id)
    plan = plan_autopay(store, day, profile)
    batches = [plan.charges[i: i + policy.batch_size] for i in range(0, len(plan.charges), policy.batch_size)]
    futures = take_charges.map([quote(b) for b in batches], unmapped(store), unmapped(gateway_block),
                               unmapped(policy), unmapped(profile), unmapped(run_id))
    futures.wait()
    outcomes = [f.result(raise_on_failure=False) for f in futures]
    done = ChargeResults()
    for result in outcomes:
        if not isinstance(result, BaseException):
            done.add(result)
    checkpoint("charges-taken")
    summary = publish_autopay(quote(plan), done, recovered, store, profile, policy, expected or [], erp)
    failed = [r for r in outcomes if isinstance(r, BaseException)]
    if failed:
        raise RuntimeError(f"{len(failed)} of {len(futures)} charge batches failed; the first: {failed[0]}. Charges "
                           "they reserved are settled by the next run, which looks each up before asking again. "
                           f"{runbook('charge-batches-failed')}")
    if summary.unsettled:
        logger.warning("%d charge(s) got no answer from the gateway; the next run looks them up before asking again",
                       summary.unsettled)
    return summary
