"""The scorecard as rules: a customer's signals in, a score, a recommendation and its reasons out.

Every signal is worth the points of the highest band it reaches (blocks/credit_policy.py); the score is the
policy's base score plus those points. A signal that cannot be computed (no payments in the review months, no
credit limit) is worth nothing either way and says so: unknown is never read as good or bad.

The recommendation, first rule that holds:
  hold          score below hold_below
  lower         score below lower_below: the limit less lower_percent, rounded down to the limit step (to the
                cent when that would leave no limit at all)
  change terms  late_share at least terms_late_share (pays, but late: other terms, not another limit)
  raise         score at least raise_from and peak_utilisation at least raise_needs_use: the limit plus
                raise_percent, rounded up to the limit step
  keep          otherwise
Without a credit limit on file a raise or a lowering proposes no amount: the reason says to set one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal

from blocks.credit_policy import SIGNALS, Band, CreditPolicy

RECOMMENDATIONS = ("raise", "keep", "lower", "hold", "change terms")


@dataclass(frozen=True)
class Signals:
    """One customer's signals in the currency of their credit limit; a value of None is unknown, with ``why``."""
    customer_id: str
    currency: str
    limit_cents: int | None
    values: dict[str, Decimal | None]
    why: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Scored:
    signal: str
    value: Decimal | None
    points: int
    reason: str


@dataclass(frozen=True)
class Review:
    customer_id: str
    currency: str
    score: int
    recommendation: str
    limit_cents: int | None
    proposed_limit_cents: int | None
    scored: tuple[Scored, ...]
    reasons: tuple[str, ...]  # what moved the score, most points first, then what is unknown


def band_of(bands: list[Band], value: Decimal) -> Band:
    """The highest band ``value`` reaches (the lowest band below its at_least too: it is the floor)."""
    reached = [b for b in bands if value >= b.at_least]
    return reached[-1] if reached else bands[0]


def score_signal(signal: str, value: Decimal | None, bands: list[Band], why: str | None = None) -> Scored:
    if value is None:
        return Scored(signal, None, 0, f"{SIGNALS[signal]}: unknown ({why or 'not in the ledger'})")
    band = band_of(bands, value)
    shown = value.quantize(Decimal("0.1"), ROUND_HALF_UP).normalize()
    return Scored(signal, value, band.points, band.reason.format(value=f"{shown:f}"))


def review(signals: Signals, policy: CreditPolicy) -> Review:
    scored = tuple(score_signal(s, signals.values.get(s), bands, signals.why.get(s))
                   for s, bands in policy.bands.items())
    score = policy.base_score + sum(s.points for s in scored)
    values = signals.values
    late, peak = values.get("late_share"), values.get("peak_utilisation")
    if score < policy.hold_below:
        recommendation = "hold"
    elif score < policy.lower_below:
        recommendation = "lower"
    elif late is not None and late >= policy.terms_late_share:
        recommendation = "change terms"
    elif score >= policy.raise_from and peak is not None and peak >= policy.raise_needs_use:
        recommendation = "raise"
    else:
        recommendation = "keep"
    proposed, reasons = _proposed_limit(recommendation, signals.limit_cents, policy), []
    if recommendation in ("raise", "lower") and signals.limit_cents is None:
        reasons.append("no credit limit on file: set one")
    moved = sorted((s for s in scored if s.points), key=lambda s: (-abs(s.points), s.signal))
    reasons += [f"{s.reason} ({s.points:+d})" for s in moved]
    reasons += [s.reason for s in scored if s.value is None]
    return Review(signals.customer_id, signals.currency, score, recommendation, signals.limit_cents, proposed,
                  scored, tuple(reasons))


def _proposed_limit(recommendation: str, limit: int | None, policy: CreditPolicy) -> int | None:
    if limit is None:
        return None
    step = Decimal(policy.limit_step_cents)
    if recommendation == "raise":
        return int((Decimal(limit) * (100 + policy.raise_percent) / 100 / step).to_integral_value(ROUND_CEILING) * step)
    if recommendation == "lower":
        lowered = Decimal(limit) * (100 - policy.lower_percent) / 100
        stepped = int((lowered / step).to_integral_value(ROUND_FLOOR) * step)
        return stepped or int(lowered.to_integral_value(ROUND_FLOOR))  # a limit under one step is not cut to 0
    return limit
