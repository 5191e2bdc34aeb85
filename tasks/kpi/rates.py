"""Exchange rates per day, and how each currency's figures become one company-wide figure in the reporting currency.

Rates come from the ledger (its optional ``exchange_rates`` table, synced into the warehouse) or from a rates file
(a CSV named in the report recipients block: ``date,currency,rate``). A rate is what one unit of the currency was
worth in the reporting currency that day, kept as a Decimal (rates that also quote the reporting currency are to
another base, and are crossed through it). A figure is converted at the latest rate on or before its day (the
period end), and the day of the rate used is said beside the figure.

Rounding rule: each currency's figure (integer cents) is converted once, ``cents * rate`` rounded half-even to
the whole cent of the reporting currency, and a company-wide figure is the sum of those rounded per-currency
figures. So the company total always equals the sum of the converted lines shown beside it, to the cent; it may
differ by a few cents from converting an unrounded sum, which is never done. A currency with nothing to convert
(0) needs no rate; one with an amount but no rate on or before the day makes the company figure unknown, with
the reason naming the currency, never 0 and never silently left out.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from pathlib import Path

import pandas as pd

from blocks.ledger import project_path

WHOLE_CENT = Decimal(1)
RATE_COLUMNS = ["rate_on", "currency", "rate"]


class RatesFileDamaged(ValueError):
    """The rates file has a row that is not a day, a currency and a positive decimal rate: nothing is converted."""


class RatesConflict(ValueError):
    """Two different rates for one currency and day: which one is meant cannot be known, so nothing is converted."""


@dataclass(frozen=True)
class RateUsed:
    currency: str
    rate: Decimal  # one unit of ``currency`` in the reporting currency
    rate_on: date  # the day of the rate: the latest on or before the figure's day


@dataclass(frozen=True)
class CompanyFigure:
    """A company-wide figure: ``value`` (cents, days or percent; None with no reason: no denominator, shown "–"),
    or unknown for ``unknown_reason``; ``partial_cents``: the sum of the currencies that could be converted when
    some could not."""

    value: int | Decimal | None
    unknown_reason: str | None = None
    partial_cents: int | None = None

    @property
    def unknown(self) -> bool:
        return self.unknown_reason is not None


def convert(cents: int, rate: Decimal) -> int:
    """``cents`` of a currency in cents of the reporting currency: once, rounded half-even to the cent."""
    return int((Decimal(int(cents)) * rate).quantize(WHOLE_CENT, ROUND_HALF_EVEN))


def missing_rate(currency: str, day: date) -> str:
    return f"no {currency} rate on or before {day:%Y-%m-%d}"


class ExchangeRates:
    """The rates of one source, looked up by currency and day; the reporting currency is always 1."""

    def __init__(self, frame: pd.DataFrame, reporting_currency: str, source: str):
        self.reporting_currency, self.source = reporting_currency, source
        frame = frame[RATE_COLUMNS].astype(object)
        days = pd.to_datetime(frame["rate_on"], format="ISO8601").dt.date
        self._by_currency = {
            str(currency): sorted(set(zip(days[group.index], (Decimal(str(r)) for r in group["rate"]), strict=True)))
            for currency, group in frame.groupby(frame["currency"].astype(str).str.upper())}
        for currency, rates in self._by_currency.items():
            twice = sorted({on for (on, _), (later, _) in zip(rates, rates[1:]) if on == later})
            if twice:
                quoted = ", ".join(str(rate) for on, rate in rates if on == twice[0])
                raise RatesConflict(f"{source}: {currency} has different rates on {twice[0]:%Y-%m-%d} ({quoted}); "
                                    "keep one per currency and day")

    def rate_for(self, currency: str, day: date) -> RateUsed | None:
        """The latest rate of ``currency`` on or before ``day``; None if there is none. Where the rates also quote
        the reporting currency itself, they are to another base: the rate is then the cross rate, ``currency``'s
        over the reporting currency's (each the latest on or before ``day``; the older day is said)."""
        if currency == self.reporting_currency:
            return RateUsed(currency, Decimal(1), day)
        mine = self._latest(currency, day)
        if mine is None or self.reporting_currency not in self._by_currency:
            return mine
        base = self._latest(self.reporting_currency, day)
        return None if base is None else RateUsed(currency, mine.rate / base.rate, min(mine.rate_on, base.rate_on))

    def _latest(self, currency: str, day: date) -> RateUsed | None:
        earlier = [(on, rate) for on, rate in self._by_currency.get(currency, []) if on <= day]
        return RateUsed(currency, earlier[-1][1], earlier[-1][0]) if earlier else None

    def at(self, currencies: list[str], day: date) -> dict[str, RateUsed | None]:
        return {c: self.rate_for(c, day) for c in currencies}


def read_rates_file(path: str | Path) -> pd.DataFrame:
    """A CSV of ``date,currency,rate`` rows (ISO dates, ISO 4217 codes, decimal rates) as the rates frame. A
    damaged row stops the report: converting with half the rates would be silently wrong."""
    file = project_path(str(path))
    rows = pd.read_csv(file, dtype=str, keep_default_na=False).rename(columns=str.strip)
    missing = {"date", "currency", "rate"} - set(rows.columns)
    if missing:
        raise RatesFileDamaged(f"{file}: no column(s) {sorted(missing)}; expected date,currency,rate")
    for line, row in zip(range(2, len(rows) + 2), rows.itertuples(), strict=True):
        try:
            date.fromisoformat(row.date.strip())
            rate = Decimal(row.rate.strip())
        except (ValueError, InvalidOperation):
            raise RatesFileDamaged(f"{file} line {line}: {row.date!r}, {row.rate!r} is not a date and a rate") from None
        if not rate > 0 or len(row.currency.strip()) != 3:
            raise RatesFileDamaged(f"{file} line {line}: {row.currency!r} {row.rate!r} is not a currency and a "
                                   "positive rate")
    return pd.DataFrame({"rate_on": rows["date"].str.strip(), "currency": rows["currency"].str.strip().str.upper(),
                         "rate": rows["rate"].str.strip()})


def exchange_rates(ledger_rates: pd.DataFrame | None, rates_file: str | None, reporting_currency: str) -> ExchangeRates:
    """The rates file when the block names one, else the ledger's rates (none: only the reporting currency
    converts)."""
    if rates_file:
        return ExchangeRates(read_rates_file(rates_file), reporting_currency, f"rates file {rates_file}")
    frame = ledger_rates if ledger_rates is not None else pd.DataFrame(columns=RATE_COLUMNS)
    return ExchangeRates(frame, reporting_currency, "the ledger's exchange rates")


def company_total(amounts: dict[str, int | None], rates: dict[str, RateUsed | None], day: date,
                  reasons: dict[str, str] | None = None) -> CompanyFigure:
    """The sum of each currency's converted amount (the rounding rule above). An amount of None is unknown in
    its currency (``reasons``: why); a non-zero amount without a rate cannot be converted. Either makes the total
    unknown, naming the currency; ``partial_cents`` then sums the rest."""
    converted, missing = {}, []
    for currency, cents in sorted(amounts.items()):
        if cents is None:
            missing.append(f"{currency}: {(reasons or {}).get(currency) or 'unknown'}")
        elif cents == 0:
            converted[currency] = 0
        elif rates.get(currency) is None:
            missing.append(missing_rate(currency, day))
        else:
            converted[currency] = convert(cents, rates[currency].rate)
    if missing:
        return CompanyFigure(None, "; ".join(missing), sum(converted.values()) if converted else None)
    return CompanyFigure(sum(converted.values()))
