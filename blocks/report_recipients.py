"""Who receives which KPI report, the targets executives judge the department by, and the currency their one-pager
adds every currency up in (a reporting choice, so it sits here beside the targets, not in the company profile).

Each audience sees only its scope: executives the whole department, a collector their own portfolio, a sales
rep their own accounts. A collector or rep without an address here gets no report (the run says so).
"""

from __future__ import annotations

from decimal import Decimal

from prefect.blocks.core import Block
from pydantic import Field, field_validator

from blocks.company import CURRENCIES
from blocks.email_channel import email_addresses


class ReportRecipients(Block):
    _block_type_name = "arpilot report recipients"
    _block_type_slug = "arpilot-report-recipients"
    _description = "Executive, collector and sales recipients of the KPI reports, and the KPI targets."

    executives: list[str] = Field(default_factory=list, description="Addresses of the executive summary.")
    collectors: dict[str, str] = Field(default_factory=dict,
                                       description="Collector name as in the ledger -> address of their report.")
    sales_reps: dict[str, str] = Field(default_factory=dict,
                                       description="Sales rep name as in the ledger -> address of their report.")
    dso_target_days: Decimal | None = Field(Decimal("45"), description="Target countback DSO (at most), in days.")
    cei_target_percent: Decimal | None = Field(Decimal("80"), description="Target CEI (at least), in percent.")
    current_target_percent: Decimal | None = Field(Decimal("75"),
                                                   description="Target share of AR not yet due (at least), percent.")
    reporting_currency: str | None = Field(
        None, description="ISO 4217 code the executive one-pager converts every currency into; empty: the company "
                          "profile's default currency.")
    exchange_rates_file: str | None = Field(
        None, description="CSV of date,currency,rate (one unit of the currency in the reporting currency that day); "
                          "empty: the rates the ledger sync read from the ledger's exchange_rates table.")
    top_customers: int = Field(10, ge=1, le=100, description="Overdue customers listed per currency.")
    output_dir: str = Field("var/reports", description="Where the PDF and HTML reports are written (relative: "
                                                       "to the project directory).")

    @field_validator("executives")
    @classmethod
    def _addresses(cls, v: list[str]) -> list[str]:
        return email_addresses(v, "executives")

    @field_validator("reporting_currency")
    @classmethod
    def _iso_currency(cls, v: str | None) -> str | None:
        if v is None or not v.strip():
            return None
        if v.strip().upper() not in CURRENCIES:
            raise ValueError(f"reporting_currency {v!r} is not an ISO 4217 currency such as USD or EUR")
        return v.strip().upper()

    @field_validator("collectors", "sales_reps")
    @classmethod
    def _named_addresses(cls, v: dict[str, str]) -> dict[str, str]:
        bad = [f"{name}: {address}" for name, address in v.items() if "@" not in address]
        if bad:
            raise ValueError(f"{bad} are not email addresses")
        return v
