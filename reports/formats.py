"""Figures as people read them, in messages, artifacts and reports alike: money in the reader's locale, "unknown"
where the ledger cannot give a figure, "–" where a formula had no denominator."""

from __future__ import annotations

from decimal import Decimal

from babel.numbers import format_currency


def money(cents: int, currency: str, locale: str = "en_US") -> str:
    """An amount in the reader's locale: 1234567 USD -> "$12,345.67", in de_DE -> "12.345,67 $"."""
    return format_currency(Decimal(int(cents)).scaleb(-2), currency, locale=locale)


def or_dash(value, unit: str) -> str:
    """A figure with its unit, or "–" where the formula had no denominator."""
    return "–" if value is None else f"{value}{unit}"


def promises_kept(kept: int, broken: int) -> str:
    """Promises judged kept or broken in the period: "3 of 4" kept, or "none decided"."""
    return f"{kept} of {kept + broken}" if kept + broken else "none decided"


PERCENT_KPIS = ("percent_current", "cei")


def kpi_figure(c, name: str, locale: str) -> str:
    """One currency's KPI (a field of the KPI stage's CurrencyKpis, or "disputed" / "promises") as every reader
    gets it: "unknown" where the ledger cannot give it, "–" where the formula had no denominator."""
    if name == "disputed":
        return "unknown" if "disputed_cents" in c.unknown else \
            f"{money(c.disputed_cents, c.currency, locale)} ({c.disputed_invoices:,})"
    if name == "promises":
        return "unknown" if "promises_kept" in c.unknown else promises_kept(c.promises_kept, c.promises_broken)
    if name in c.unknown:
        return "unknown"
    value = getattr(c, name)
    if name.endswith("_cents"):
        return money(value, c.currency, locale)
    return or_dash(value, " %" if name in PERCENT_KPIS else " days")


def unknown_notes(kpis) -> list[str]:
    """Why figures are unknown (``kpis.currencies``' unknown reasons): a line per reason, naming the currencies it
    holds for."""
    by_reason: dict[str, list[str]] = {}
    for c in kpis.currencies:
        if c.unknown:
            by_reason.setdefault(c.unknown_reason, []).append(c.currency)
    return [f"{', '.join(currencies)}: figures marked unknown cannot be computed: {reason}."
            for reason, currencies in by_reason.items()]


def company_figure(figure, unit: str, currency: str, locale: str) -> str:
    """A company-wide figure of the executive one-pager (tasks/kpi/rates.py's CompanyFigure) in ``unit`` (money,
    days or percent): "unknown" where some currency cannot give it, "–" where it has no denominator."""
    if figure.unknown:
        return "unknown"
    if figure.value is None:
        return "–"
    return money(figure.value, currency, locale) if unit == "money" else \
        or_dash(figure.value, " days" if unit == "days" else " %")
