"""The charge run's Prefect tasks: settle what a stopped run left, plan the day, take the charges in batches.

Each charge is reserved in the warehouse before the gateway hears of it, marked submitted just before the request,
and settled from the gateway's answer. A lost answer is never answered by asking again blindly: the intent is
looked up by its charge key first. A charge request whose answer was lost may still be on its way to the gateway, so
it is not asked again in the same run: a later run looks it up, and asks again only when the gateway has no intent
for it and the policy's grace has passed since it was last asked.
"""

from __future__ import annotations

import time
from datetime import date

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from blocks.autopay_policy import AutopayPolicy
from blocks.company import CompanyProfile
from blocks.payment_gateway import PaymentGateway
from blocks.warehouse import ArWarehouse
from tasks import warehouse as wh
from tasks.charges import gateway, records
from tasks.charges.gateway import GatewayUnavailable, Outcome
from tasks.charges.plan import ChargePlan, PlannedCharge, decline_terms, plan_charges
from tasks.charges.results import ChargeResults, publish_plan
from tasks.claims import checkpoint


def _query(conn, name: str, params: dict | None = None):
    return wh.query_frame(conn, wh.named_query("charges", name), params)


def read_plan(store: ArWarehouse, day: date) -> ChargePlan:
    """The charges for ``day`` from the warehouse as it is now."""
    with store.engine().connect() as conn:
        params = {"day": day}
        return plan_charges(_query(conn, "due", params), _query(conn, "mandates"), _query(conn, "history", params),
                            _query(conn, "credit"), day)


@task(name="plan-autopay-charges", cache_policy=NO_CACHE)
def plan_autopay(store: ArWarehouse, day: date, company: CompanyProfile) -> ChargePlan:
    """Who is charged how much today, from the warehouse as it is now (not as it was when the run was scheduled)."""
    plan = read_plan(store, day)
    get_run_logger().info("Autopay on %s: %d charge(s), %d customer/currency pair(s) not charged", day,
                          len(plan.charges), len(plan.skipped))
    publish_plan(plan, company)
    checkpoint("charges-planned")
    return plan


def _failure_terms(outcome: Outcome, charge: PlannedCharge, policy: AutopayPolicy,
                   company: CompanyProfile) -> tuple[date | None, str | None]:
    if outcome.status != "failed":
        return None, None
    kind, retry_on = decline_terms(outcome.failure_code, charge.attempt, charge.charge_day, policy.retry_after_days,
                                   policy.soft_declines, company.add_business_days)
    return retry_on, kind


def take_charge(engine, client, charge: PlannedCharge, policy: AutopayPolicy, company: CompanyProfile,
                look_up_first: bool) -> str:
    """Ask the gateway for one reserved charge and record its answer; returns the charge's status."""
    with engine.begin() as conn:
        records.mark_submitted(conn, charge.charge_key)
    checkpoint("charge-submitted")
    error, outcome = None, None
    for attempt in range(policy.gateway_attempts):
        try:
            made = gateway.find(client, charge.gateway_customer, charge.charge_key) if look_up_first else None
            checkpoint("charge-looked-up")
            outcome = gateway.outcome_of(made) if made else gateway.submit(client, charge)
            break
        except GatewayUnavailable as unavailable:
            error, look_up_first = unavailable, True  # the request may have been made: look before asking again
            if unavailable.in_flight:  # and may still arrive after a lookup: a later run looks, after the grace
                break
            if attempt + 1 < policy.gateway_attempts:
                time.sleep(policy.gateway_backoff_seconds * 2**attempt)
    if outcome is None:
        with engine.begin() as conn:
            records.leave_unsettled(conn, charge.charge_key, f"gateway unreachable: {error}")
        return "submitted"
    checkpoint("charge-answered")
    retry_on, kind = _failure_terms(outcome, charge, policy, company)
    with engine.begin() as conn:
        records.settle(conn, charge.charge_key, outcome, retry_on, kind)
    checkpoint("charge-settled")
    return outcome.status


@task(name="recover-charges", cache_policy=NO_CACHE)
def recover_charges(store: ArWarehouse, gateway_block: PaymentGateway, policy: AutopayPolicy,
                    company: CompanyProfile, run_id: str) -> ChargeResults:
    """Settle the charges a stopped run left reserved or submitted (looked up before anything is asked), and the
    bank debits still processing."""
    logger = get_run_logger()
    engine, client, results = store.engine(), gateway_block.client(), ChargeResults()
    with engine.connect() as conn:
        left = records.orphans(conn)
    for row in left.itertuples(index=False):
        if row.status == "submitted" and records.asked_within(row, policy.lost_answer_grace_seconds):
            try:  # its request may still be on its way: settle it now only if the gateway already has it
                if gateway.find(client, row.gateway_customer, row.charge_key) is None:
                    continue
            except GatewayUnavailable:
                continue
        with engine.begin() as conn:
            if not records.adopt(conn, row.charge_key, row.owner, run_id):
                continue
        checkpoint("charge-adopted")
        status = take_charge(engine, client, records.as_planned(row), policy, company,
                             look_up_first=row.status == "submitted")
        logger.warning("Charge %s left %s by a stopped run: now %s", row.charge_key, row.status, status)
        results.statuses[status] += 1
    with engine.connect() as conn:
        settling = records.processing(conn)
    for row in settling.itertuples(index=False):
        try:
            outcome = gateway.poll(client, row.intent_id)
        except GatewayUnavailable as unavailable:
            logger.warning("Charge %s still processing; %s", row.charge_key, unavailable)
            continue
        checkpoint("debit-polled")
        if outcome.status != "processing":
            charge = records.as_planned(row)
            retry_on, kind = _failure_terms(outcome, charge, policy, company)
            with engine.begin() as conn:
                records.settle(conn, row.charge_key, outcome, retry_on, kind)
            results.statuses[f"settled {outcome.status}"] += 1
    return results


@task(name="take-charges", task_run_name="take-charges-{charges[0].charge_key}", cache_policy=NO_CACHE)
def take_charges(charges: list[PlannedCharge], store: ArWarehouse, gateway_block: PaymentGateway,
                 policy: AutopayPolicy, company: CompanyProfile, run_id: str) -> ChargeResults:
    """Reserve and take one batch of charges; a charge another run has reserved is left to it."""
    engine, client, results = store.engine(), gateway_block.client(), ChargeResults()
    for charge in charges:
        with engine.begin() as conn:
            mine = records.reserve(conn, charge, run_id)
        if not mine:
            results.skipped += 1
            continue
        checkpoint("charge-reserved")
        results.statuses[take_charge(engine, client, charge, policy, company, look_up_first=False)] += 1
    return results
