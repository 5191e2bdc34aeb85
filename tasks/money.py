"""Money as the warehouse keeps it (integer cents beside a currency code) and as people read it."""

from __future__ import annotations

from decimal import Decimal

from babel.numbers import format_currency

CENT = Decimal("0.01")


def to_decimal(cents: int) -> Decimal:
    """12345 -> Decimal("123.45"), always with two places (so "50000.00", not "5E+4" or "50000")."""
    return (Decimal(int(cents)) / 100).quantize(CENT)


def to_cents(amount: Decimal) -> int:
    return int((amount * 100).to_integral_value())


def money(cents: int, currency: str, locale: str = "en_US") -> str:
    """An amount in the reader's locale: 1234567 USD -> "$12,345.67", in de_DE -> "12.345,67 $"."""
    return format_currency(to_decimal(cents), currency, locale=locale)
