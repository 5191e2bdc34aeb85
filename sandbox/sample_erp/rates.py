"""The sample ERP's exchange rates: what one unit of each of its currencies was worth in US dollars (its base and
the demo company's reporting currency) on every business day of its history, as decimal text.

Rates walk randomly (about 0.4 % a day) around the world's UNITS_PER_USD, from their own random stream of the
seed, so adding them changes none of the ERP's other rows.
"""

from __future__ import annotations

from decimal import Decimal

import numpy as np

from sandbox.sample_erp.values import Table, iso_dates
from sandbox.sample_erp.world import HISTORY_DAYS, UNITS_PER_USD

BASE_CURRENCY = "USD"
DAILY_MOVE = 0.004  # standard deviation of a day's change of the log rate
STREAM = 20_261_130  # the rates' own random stream beside the seed


def make_exchange_rates(seed: int, as_of_day: int) -> Table:
    """A rate per currency (except USD) and weekday, from HISTORY_DAYS + 60 days before ``as_of_day`` to the day
    before it (no weekend rates: a weekend's figures take Friday's)."""
    rng = np.random.default_rng([seed, STREAM])
    days = np.arange(as_of_day - HISTORY_DAYS - 60, as_of_day)
    days = days[(days + 3) % 7 < 5]  # 1970-01-01 was a Thursday: Monday to Friday
    currencies = [c for c in UNITS_PER_USD if c != BASE_CURRENCY]
    walks = np.cumsum(rng.normal(0, DAILY_MOVE, (len(currencies), days.size)), axis=1)
    rates = np.exp(walks) / np.array([UNITS_PER_USD[c] for c in currencies])[:, None]
    dates = iso_dates(days)
    # published at 18:00 each day, a second apart per currency: one row per stamp, as an incremental sync expects
    seconds = np.char.add(" 18:00:", np.char.zfill(np.arange(len(currencies)).astype(str), 2))
    return {"rate_date": np.tile(dates, len(currencies)),
            "currency": np.repeat(np.array(currencies, dtype=object), days.size),
            "rate": np.array([_decimal_text(r) for r in rates.ravel()], dtype=object),
            "updated_at": np.char.add(np.tile(dates, len(currencies)), np.repeat(seconds, days.size))}


def _decimal_text(rate: float) -> str:
    """Six significant digits, as a bank publishes them: 0.00667342, 1.08715."""
    return format(Decimal(f"{rate:.6g}"), "f")
