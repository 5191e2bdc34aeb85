"""The company profile: whose ledger this is, its time zone, currency, locale, branding and business days.

Every stage takes "today" and every format from here, so a run at 01:30 UTC ages invoices by the
company's own calendar day.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel.numbers import list_currencies
from prefect.blocks.core import Block
from pydantic import Field, field_validator

# ISO 4217 codes in use; the X-codes are metals, test and "no currency" codes, except these real ones.
_REAL_X_CURRENCIES = {"XAF", "XCD", "XOF", "XPF", "XCG"}
CURRENCIES = frozenset(c for c in list_currencies() if not c.startswith("X") or c in _REAL_X_CURRENCIES)
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class CompanyProfile(Block):
    _block_type_name = "arpilot company profile"
    _block_type_slug = "arpilot-company-profile"
    _description = "Legal name, time zone, default currency and locale, branding and business days."

    legal_name: str = Field(..., description="Shown on every message and report.")
    time_zone: str = Field("UTC", description="IANA time zone whose calendar decides 'today'.")
    default_currency: str = Field("USD", description="ISO 4217 code for ledger rows that name none.")
    locale: str = Field("en_US", description="Babel locale for dates and amounts, e.g. en_GB, de_DE.")
    sender_name: str = Field("Accounts Receivable", description="Display name on outgoing messages.")
    logo_url: str | None = Field(None, description="Logo for messages and reports (https:// or file path).")
    brand_color: str = Field("#1f4e79", description="Accent colour for messages and reports.")
    business_days: list[str] = Field(["mon", "tue", "wed", "thu", "fri"], description="Working weekdays.")
    holidays: list[date] = Field(default_factory=list, description="Dates that are not business days.")
    bank_accounts: dict[str, str] = Field(
        default_factory=dict, description="Currency -> where to pay by bank transfer in it (bank, account or IBAN, "
                                          "routing or BIC), printed on the invoices arpilot renders.")
    aging_buckets: list[int] = Field(
        [30, 60, 90], description="Upper bounds in days past due of the overdue aging buckets; [30, 60, 90] gives "
                                  "not_due, 1-30, 31-60, 61-90 and 90+.")

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"time_zone {v!r} is not an IANA time zone such as Europe/London") from None
        return v

    @field_validator("default_currency")
    @classmethod
    def _iso_currency(cls, v: str) -> str:
        if v.strip().upper() not in CURRENCIES:
            raise ValueError(f"default_currency {v!r} is not an ISO 4217 currency arpilot can format, such as USD or "
                             "EUR")
        return v.strip().upper()

    @field_validator("business_days")
    @classmethod
    def _weekdays(cls, v: list[str]) -> list[str]:
        days = [d.strip().lower()[:3] for d in v]
        unknown = [d for d in days if d not in WEEKDAYS]
        if unknown:
            raise ValueError(f"business_days {unknown} are not weekdays ({', '.join(WEEKDAYS)})")
        if not days:
            raise ValueError("business_days must name at least one weekday")
        return days

    @field_validator("aging_buckets")
    @classmethod
    def _rising_bounds(cls, v: list[int]) -> list[int]:
        if not v or v[0] < 1 or any(b <= a for a, b in zip(v, v[1:], strict=False)):
            raise ValueError(f"aging_buckets {v} must be rising day counts from 1 up, such as [30, 60, 90]")
        return v

    def today(self, now: datetime | None = None) -> date:
        """The company's calendar date at ``now`` (default: this instant)."""
        zone = ZoneInfo(self.time_zone)
        return (now.astimezone(zone) if now else datetime.now(zone)).date()

    def is_business_day(self, day: date) -> bool:
        return WEEKDAYS[day.weekday()] in self.business_days and day not in self.holidays

    def add_business_days(self, day: date, count: int) -> date:
        """The ``count``-th business day after ``day`` (0: ``day`` itself if a business day, else the next one)."""
        while not self.is_business_day(day):
            day += timedelta(days=1)
        for _ in range(count):
            day += timedelta(days=1)
            while not self.is_business_day(day):
                day += timedelta(days=1)
        return day
