"""The credit scorecard, in the open: which signals count, how many points each band of a signal is worth, and the
scores at which a review recommends raising, keeping, lowering or holding a customer's credit limit, or changing
their terms. Finance and sales agree on these numbers; arpilot only adds them up (tasks/credit/scorecard.py).
"""

from __future__ import annotations

from decimal import Decimal

from prefect.blocks.core import Block
from pydantic import BaseModel, Field, field_validator, model_validator


class Band(BaseModel):
    """From ``at_least`` on (up to the next band) a signal is worth ``points``; ``reason`` says why in words, with
    {value} for the signal's value as the review shows it."""

    at_least: Decimal
    points: int
    reason: str = Field(..., min_length=1)


SIGNALS = {
    # signal: what it measures, over the review months
    "days_beyond_terms": "days paid after the due date, weighted by amount",
    "dbt_trend": "days beyond terms in the last 3 months less in the months before (positive: paying later)",
    "late_share": "percent of the amount paid more than late_grace_days after its due date",
    "utilisation": "open AR as a percent of the credit limit",
    "peak_utilisation": "the highest balance as a percent of the credit limit",
    "disputes": "disputes opened",
    "broken_promises": "promises to pay broken",
    "failed_charges": "autopay charges declined or failed",
    "account_months": "months since the first invoice",
    "add": "average days delinquent: past-due AR today / net sales of the last 90 days x 90",
    "sales_volume": "invoiced in the review months, in the limit's currency",
}

DEFAULT_BANDS: dict[str, list[Band]] = {
    "days_beyond_terms": [Band(at_least=Decimal(0), points=5, reason="pays on time (on average {value} days late)"),
                          Band(at_least=Decimal(5), points=0, reason="pays {value} days late on average"),
                          Band(at_least=Decimal(15), points=-15, reason="pays {value} days late on average"),
                          Band(at_least=Decimal(30), points=-30, reason="pays {value} days late on average")],
    "dbt_trend": [Band(at_least=Decimal(-999), points=0, reason="paying no later than before ({value} days)"),
                  Band(at_least=Decimal(5), points=-10, reason="paying {value} days later than before"),
                  Band(at_least=Decimal(15), points=-20, reason="paying {value} days later than before")],
    "late_share": [Band(at_least=Decimal(0), points=0, reason="{value} % of payments late"),
                   Band(at_least=Decimal(25), points=-10, reason="{value} % of payments late"),
                   Band(at_least=Decimal(50), points=-20, reason="{value} % of payments late")],
    "utilisation": [Band(at_least=Decimal(0), points=0, reason="uses {value} % of the limit"),
                    Band(at_least=Decimal(90), points=-5, reason="uses {value} % of the limit"),
                    Band(at_least=Decimal(100), points=-20, reason="over the limit: {value} % of it")],
    "peak_utilisation": [Band(at_least=Decimal(0), points=0, reason="peaked at {value} % of the limit"),
                         Band(at_least=Decimal(120), points=-10, reason="peaked at {value} % of the limit")],
    "disputes": [Band(at_least=Decimal(0), points=0, reason="{value} disputes"),
                 Band(at_least=Decimal(2), points=-5, reason="{value} disputes"),
                 Band(at_least=Decimal(5), points=-15, reason="{value} disputes")],
    "broken_promises": [Band(at_least=Decimal(0), points=0, reason="{value} broken promises"),
                        Band(at_least=Decimal(1), points=-10, reason="{value} broken promise(s)"),
                        Band(at_least=Decimal(3), points=-25, reason="{value} broken promises")],
    "failed_charges": [Band(at_least=Decimal(0), points=0, reason="{value} failed charges"),
                       Band(at_least=Decimal(1), points=-10, reason="{value} failed autopay charge(s)"),
                       Band(at_least=Decimal(3), points=-20, reason="{value} failed autopay charges")],
    "account_months": [Band(at_least=Decimal(0), points=-10, reason="a new account ({value} months)"),
                       Band(at_least=Decimal(12), points=0, reason="a customer for {value} months"),
                       Band(at_least=Decimal(36), points=10, reason="a customer for {value} months")],
    "add": [Band(at_least=Decimal(0), points=0, reason="{value} days delinquent on average (ADD)"),
            Band(at_least=Decimal(30), points=-5, reason="{value} days delinquent on average (ADD)"),
            Band(at_least=Decimal(60), points=-10, reason="{value} days delinquent on average (ADD)")],
    "sales_volume": [Band(at_least=Decimal(0), points=0, reason="invoiced {value} in the review months")],
}


class CreditPolicy(Block):
    _block_type_name = "arpilot credit policy"
    _block_type_slug = "arpilot-credit-policy"
    _description = "The credit review's scorecard: points per signal band and the scores behind each recommendation."

    bands: dict[str, list[Band]] = Field(default_factory=lambda: DEFAULT_BANDS, description="Signal -> its bands, "
                                         "lowest first: from a band's at_least on the signal is worth its points.")
    base_score: int = Field(100, description="Every customer starts here; each signal adds its band's points.")
    raise_from: int = Field(105, description="A score this high or higher, with the limit used (peak_utilisation at "
                                             "least raise_needs_use), recommends a raise.")
    raise_needs_use: Decimal = Field(Decimal(70), description="Percent of the limit the balance reached: no raise "
                                                              "for a customer who does not use the limit they have.")
    raise_percent: Decimal = Field(Decimal(25), gt=0, description="How much a raise adds to the limit.")
    lower_below: int = Field(80, description="A score below this recommends a lower limit.")
    lower_percent: Decimal = Field(Decimal(25), gt=0, lt=100, description="How much a lowering takes off.")
    hold_below: int = Field(60, description="A score below this recommends a credit hold.")
    terms_late_share: Decimal = Field(Decimal(50), description="A customer who otherwise scores well but pays this "
                                                              "percent of amounts late is offered other terms.")
    limit_step_cents: int = Field(100_000, gt=0, description="New limits are rounded to this (1,000.00).")
    review_months: int = Field(12, ge=3, le=36, description="How far back the signals look.")
    late_grace_days: int = Field(5, ge=0, description="A payment this many days or fewer after its due date is not "
                                                      "late for the late share (the days a transfer takes).")
    answer_hours: int = Field(72, ge=1, description="How long a review waits for approval; then it ends and "
                                                     "nothing changes.")
    export_dir: str = Field("var/output/credit", description="Where the ERP's import files of approved changes "
                                                             "are written (credit-limits-<date>.csv).")
    large_dispute_percent: int = Field(25, ge=1, description="A new dispute worth at least this percent of the "
                                                             "customer's limit starts a review of the customer.")
    event_days: int = Field(7, ge=1, description="Disputes and failed charges this recent count as news for the "
                                                 "nightly's credit watch (a night that did not run is caught up).")

    @field_validator("bands")
    @classmethod
    def _known_rising(cls, bands: dict[str, list[Band]]) -> dict[str, list[Band]]:
        unknown = sorted(set(bands) - set(SIGNALS))
        if unknown:
            raise ValueError(f"bands name unknown signals {unknown}; the signals are {sorted(SIGNALS)}")
        for signal, rows in bands.items():
            edges = [b.at_least for b in rows]
            if not rows or edges != sorted(set(edges)):
                raise ValueError(f"bands of {signal} must be at least one, with rising at_least values: {edges}")
        return bands

    @model_validator(mode="after")
    def _thresholds_in_order(self) -> CreditPolicy:
        if not self.hold_below <= self.lower_below < self.raise_from:
            raise ValueError(f"hold_below {self.hold_below} <= lower_below {self.lower_below} < raise_from "
                             f"{self.raise_from} must hold")
        return self
