"""What a charge run planned and did, for the controller: the autopay-plan and autopay-results artifacts, and the
day's payment export for the ERP."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import pandas as pd
from prefect import task
from prefect.artifacts import create_table_artifact
from prefect.cache_policies import NO_CACHE

from blocks.autopay_policy import AutopayPolicy
from blocks.company import CompanyProfile
from blocks.ledger import SqlLedgerSource, project_path
from blocks.warehouse import ArWarehouse
from reports.formats import money
from tasks import warehouse as wh
from tasks.charges.payments import write_back, write_exports
from tasks.charges.plan import ChargePlan
from tasks.claims import checkpoint

ARTIFACT_ROWS = 500


@dataclass
class ChargeResults:
    statuses: Counter = field(default_factory=Counter)  # final status (or "submitted": answer unknown) -> charges
    skipped: int = 0  # already reserved by another run

    def add(self, other: ChargeResults) -> ChargeResults:
        self.statuses.update(other.statuses)
        self.skipped += other.skipped
        return self


@dataclass
class AutopaySummary:
    charge_day: date
    planned: int
    skipped: list  # SkippedCharge, with reasons
    outcomes: pd.DataFrame  # status, charges, amount_cents, currency (the day's charges as the warehouse has them)
    recovered: dict[str, int]
    unsettled: int  # asked, but the gateway's answer is not known yet
    export: Path | None

    def count(self, status: str) -> int:
        return int(self.outcomes.loc[self.outcomes["status"] == status, "charges"].sum())


def plan_rows(plan: ChargePlan, company: CompanyProfile) -> list[dict]:
    """The plan as the controller reads it: each charge, then each customer and currency not charged and why."""
    rows = [{"Customer": c.customer_id, "Amount": money(c.amount_cents, c.currency, company.locale),
             "Invoices": ", ".join(n for n, _ in c.invoices), "Method": f"{c.method_type} ••••{c.last4 or '?'}",
             "Attempt": c.attempt, "Not charged because": ""} for c in plan.charges]
    rows += [{"Customer": s.customer_id, "Amount": money(s.amount_cents, s.currency, company.locale),
              "Invoices": ", ".join(s.invoices), "Method": "", "Attempt": "",
              "Not charged because": s.reason + (" (collector told)" if s.tell_collector else "")}
             for s in plan.skipped]
    return rows


def publish_plan(plan: ChargePlan, company: CompanyProfile) -> None:
    totals = ", ".join(money(v, k, company.locale) for k, v in sorted(plan.amount_by_currency.items())) or "nothing"
    create_table_artifact(plan_rows(plan, company)[:ARTIFACT_ROWS], key="autopay-plan",
                          description=f"Autopay on {plan.charge_day}: {len(plan.charges)} charge(s) for {totals}; "
                                      f"{len(plan.skipped)} customer/currency pair(s) not charged, with the reason.")


@task(name="autopay-results", cache_policy=NO_CACHE)
def publish_autopay(plan: ChargePlan, done: ChargeResults, recovered: ChargeResults, store: ArWarehouse,
                    company: CompanyProfile, policy: AutopayPolicy, expected: list[dict],
                    ledger: SqlLedgerSource | None = None) -> AutopaySummary:
    """The day's charges as the warehouse holds them (this run's and earlier runs' of the same day), the gateway's
    reasons for each failure, the retries scheduled, and the export for the ERP (and the write-back to the ledger
    database, when the policy has one)."""
    engine = store.engine()
    written_back = 0
    if policy.write_back_sql:
        with ledger.connect() as ledger_conn, engine.begin() as conn:
            written_back = write_back(conn, ledger_conn, policy.write_back_sql)
    with engine.connect() as conn:
        charges = wh.query_frame(conn, wh.named_query("charges", "day_results"), {"day": plan.charge_day})
        charges = wh.plain(charges)
        export = write_exports(conn, plan.charge_day, project_path(policy.export_dir))
    checkpoint("export-written")
    outcomes = (charges.groupby(["status", "currency"], as_index=False)
                .agg(charges=("charge_key", "count"), amount_cents=("amount_cents", "sum"))
                if len(charges) else pd.DataFrame(columns=["status", "currency", "charges", "amount_cents"]))
    create_table_artifact([{
        "Customer": r.customer_id, "Amount": money(int(r.amount_cents), r.currency, company.locale),
        "Status": r.status, "Attempt": int(r.attempt), "Gateway's reason": r.failure_reason or "",
        "Code": r.failure_code or "", "Retry on": str(r.retry_on or ""), "Payment": r.payment_id or "",
    } for r in charges.head(ARTIFACT_ROWS).itertuples(index=False)], key="autopay-results",
        description=f"Autopay charges of {plan.charge_day}: " + (", ".join(
            f"{int(r.charges)} {r.status} ({money(int(r.amount_cents), r.currency, company.locale)})"
            for r in outcomes.itertuples(index=False)) or "none") + f". Export for the ERP: {export.name}"
        + (f"; {written_back} payment(s) written to the ledger database." if policy.write_back_sql else "."))
    planned_keys = {(c.customer_id, c.currency) for c in plan.charges}
    missing = [e for e in expected if (e.get("customer_id"), e.get("currency")) not in planned_keys
               and not ((charges["customer_id"] == e.get("customer_id")) & (charges["currency"] == e.get("currency"))).any()]
    if missing:
        create_table_artifact([{**e, "Now": "not charged: paid, disputed or changed since scheduled"} for e in missing],
                              key="autopay-not-charged-since-scheduled",
                              description="Charges foreseen when this run was scheduled that it did not make.")
    return AutopaySummary(plan.charge_day, len(plan.charges), plan.skipped, outcomes, dict(recovered.statuses),
                          int((charges["status"] == "submitted").sum()) if len(charges) else 0, export)
