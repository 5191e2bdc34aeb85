"""Tomorrow's charges as a Scheduled flow run the controller can see, and cancel, before any money moves.

The nightly creates one run of the autopay-charges deployment per charge day, at the company's charge time, with
an idempotency key per warehouse and day: a rerun of the nightly finds that run (even one the controller cancelled) instead of
scheduling a twin. The run's parameters list who is expected to be charged how much.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from prefect import get_run_logger, task
from prefect.artifacts import create_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.client.schemas.objects import FlowRun
from prefect.deployments import run_deployment
from prefect.exceptions import ObjectNotFound

from blocks.autopay_policy import AutopayPolicy
from blocks.company import CompanyProfile
from blocks.warehouse import ArWarehouse
from reports.formats import money
from tasks.charges.charging import read_plan
from tasks.charges.results import plan_rows
from tasks.money import to_decimal

CHARGE_DEPLOYMENT = "autopay-charges/autopay-charges"


def next_charge_day(company: CompanyProfile, today: date) -> date:
    """Charges run on business days: the first one after ``today``."""
    return company.add_business_days(today + timedelta(days=1), 0)


def charge_instant(company: CompanyProfile, policy: AutopayPolicy, day: date) -> datetime:
    return datetime.combine(day, policy.charge_time, ZoneInfo(company.time_zone))


@task(name="schedule-autopay-charges", cache_policy=NO_CACHE)
def schedule_charges(store: ArWarehouse, company: CompanyProfile, policy: AutopayPolicy, today: date,
                     blocks: dict[str, str]) -> FlowRun | None:
    """Schedule the next charge day's run; None when no autopay-charges deployment exists (the caller then runs
    the charges itself). ``blocks`` are the flow's block parameters, passed on."""
    day = next_charge_day(company, today)
    preview = read_plan(store, day)
    expected = [{"customer_id": c.customer_id, "currency": c.currency, "amount": str(to_decimal(c.amount_cents)),
                 "invoices": len(c.invoices)} for c in preview.charges]
    try:
        run = run_deployment(CHARGE_DEPLOYMENT, parameters={"charge_day": day.isoformat(), "expected": expected,
                                                            **blocks},
                             scheduled_time=charge_instant(company, policy, day), timeout=0, as_subflow=False,
                             idempotency_key=f"autopay-charges|{blocks['warehouse']}|{day.isoformat()}")
    except ObjectNotFound:
        return None
    totals = ", ".join(money(v, k, company.locale) for k, v in sorted(preview.amount_by_currency.items())) or "nothing"
    create_table_artifact(plan_rows(preview, company)[:500], key="autopay-scheduled",
                          description=f"Scheduled run {run.name} at {run.expected_start_time}: as the warehouse is "
                                      f"tonight, {len(preview.charges)} charge(s) for {totals}. Cancel the run in the "
                                      f"UI (Runs) to stop them; the run plans again when it starts.")
    get_run_logger().info("Autopay charges of %s scheduled: run %s (%s), %d charge(s) for %s", day, run.name,
                          run.state_name, len(preview.charges), totals)
    return run
