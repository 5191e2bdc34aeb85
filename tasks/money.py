"""Money as the warehouse keeps it: integer cents beside a currency code (reports.formats writes it for people)."""

from __future__ import annotations

from decimal import Decimal

CENT = Decimal("0.01")


def to_decimal(cents: int) -> Decimal:
    """12345 -> Decimal("123.45"), always with two places (so "50000.00", not "5E+4" or "50000")."""
    return (Decimal(int(cents)) / 100).quantize(CENT)


def to_cents(amount: Decimal) -> int:
    return int((amount * 100).to_integral_value())

