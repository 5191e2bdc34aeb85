"""Validate extracted ledger rows: parse them into warehouse types or quarantine them with a reason.

Pure functions over pandas frames, vectorised so a million invoices validate in seconds. Nothing is ever
dropped: every input row ends up either in ``clean`` or in ``quarantined`` with every reason it failed.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
import numpy as np
import pandas as pd
from babel.numbers import list_currencies

from tasks.ledger_entities import ALLOCATIONS, INVOICE_STATUSES, INVOICES, Entity, Kind

# ISO 4217 codes in use; the X-codes are metals, test and "no currency" codes, except these real ones.
_REAL_X_CURRENCIES = {"XAF", "XCD", "XOF", "XPF", "XCG"}
CURRENCIES = frozenset(c for c in list_currencies() if not c.startswith("X") or c in _REAL_X_CURRENCIES)

BAD_ENCODING_MARK = "\ufffd"  # what a decode with errors="replace" leaves where bytes were not valid


@dataclass(frozen=True)
class ParseOptions:
    """How a source writes its values. SQL sources use the defaults; file mappings set their own."""

    date_format: str = "%Y-%m-%d"
    decimal: str = "."
    thousands: str = ""
    true_values: tuple[str, ...] = ("1", "true", "t", "yes", "y")
    false_values: tuple[str, ...] = ("0", "false", "f", "no", "n")
    default_currency: str | None = None


@dataclass
class Validated:
    clean: pd.DataFrame  # canonical fields, warehouse-ready: dates ISO text, money int cents, bools
    quarantined: pd.DataFrame  # row_ref, reason, raw_row (JSON)
    rows_in: int = 0
    notes: list[str] = field(default_factory=list)


KnownKeys = Callable[[str, Iterable[str]], set[str]]
"""known_keys(entity_name, candidate_keys) -> the candidates that exist (in the warehouse)."""


class _Problems:
    """Collects reasons per row; a row with any reason is quarantined."""

    def __init__(self, index: pd.Index):
        self.reasons = pd.Series("", index=index, dtype=object)

    def add(self, mask: pd.Series, message: pd.Series | str) -> None:
        mask = mask.fillna(False).astype(bool)
        if not mask.any():
            return
        msg = message[mask] if isinstance(message, pd.Series) else message
        current = self.reasons[mask]
        self.reasons[mask] = current.where(current == "", current + "; ") + msg

    @property
    def bad(self) -> pd.Series:
        return self.reasons != ""


def _as_text(values: pd.Series) -> pd.Series:
    """Source values as stripped text, None for blanks.

    str() is exact for every type a source hands us: floats print their shortest round-tripping form
    (so a REAL 1234.5 becomes '1234.5'), dates and timestamps print ISO.
    """
    out = pd.Series(None, index=values.index, dtype=object)
    present = values.notna()
    if present.any():
        out[present] = values[present].astype(str).str.strip()
        out[out == ""] = None
    return out


def _quote(values: pd.Series) -> pd.Series:
    return "'" + values.astype(str) + "'"


def _parse_dates(name: str, text: pd.Series, options: ParseOptions, problems: _Problems) -> pd.Series:
    present = text.notna()
    parsed = pd.to_datetime(text, format=options.date_format, errors="coerce")
    retry = present & parsed.isna()
    if retry.any():
        # Native dates from Parquet/Excel and source timestamps ("2026-11-23 14:05:00") print as ISO,
        # whatever format the file's text dates use; the time of day does not matter to AR.
        iso = pd.to_datetime(text[retry], format="ISO8601", errors="coerce")
        parsed[retry] = iso.dt.tz_localize(None).dt.normalize() if iso.dt.tz is not None else iso.dt.normalize()
    invalid = present & parsed.isna()
    problems.add(invalid, f"{name} " + _quote(text) + f" is not a date in the format {human_date_format(options.date_format)}")
    out = pd.Series(None, index=text.index, dtype=object)
    ok = parsed.notna()
    out[ok] = parsed[ok].dt.strftime("%Y-%m-%d")
    return out


_MONEY = r"^([+-]?)(\d{1,15})(?:\.(\d{1,2})0*)?$"


def _parse_money(name: str, text: pd.Series, options: ParseOptions, problems: _Problems) -> pd.Series:
    normal = text.fillna("").str.replace(" ", "", regex=False).str.replace("\u00a0", "", regex=False)
    if options.thousands:
        normal = normal.str.replace(options.thousands, "", regex=False)
    if options.decimal != ".":
        normal = normal.str.replace(options.decimal, ".", regex=False)
    parts = normal.str.extract(_MONEY)
    present = text.notna()
    malformed = present & parts[1].isna()
    problems.add(malformed, f"{name} " + _quote(text) + " is not an amount with at most 2 decimals")
    ok = present & ~malformed
    cents = pd.Series(pd.NA, index=text.index, dtype="Int64")
    if ok.any():
        whole = parts.loc[ok, 1].astype("int64") * 100
        frac = parts.loc[ok, 2].fillna("").str.ljust(2, "0").astype("int64")
        signed = (whole + frac).where(parts.loc[ok, 0] != "-", -(whole + frac))
        cents[ok] = signed
    problems.add(cents < 0, f"{name} " + _quote(text) + " is negative")
    return cents


def _parse_bools(name: str, text: pd.Series, options: ParseOptions, problems: _Problems) -> pd.Series:
    lowered = text.str.lower()
    truthy = lowered.isin([v.lower() for v in options.true_values])
    falsy = lowered.isin([v.lower() for v in options.false_values])
    unknown = text.notna() & ~truthy & ~falsy
    expected = "/".join(options.true_values[:1] + options.false_values[:1])
    problems.add(unknown, f"{name} " + _quote(text) + f" is not a yes/no value (expected {expected})")
    return truthy.astype(bool)


def _parse_ints(name: str, text: pd.Series, problems: _Problems) -> pd.Series:
    valid = text.str.fullmatch(r"[+-]?\d{1,9}(\.0+)?").fillna(False).astype(bool)
    problems.add(text.notna() & ~valid, f"{name} " + _quote(text) + " is not a whole number")
    out = pd.Series(pd.NA, index=text.index, dtype="Int64")
    out[valid] = pd.to_numeric(text[valid]).astype("int64")
    return out


def _parse_currencies(name: str, text: pd.Series, options: ParseOptions, problems: _Problems) -> pd.Series:
    codes = text.str.upper()
    if options.default_currency:
        codes = codes.fillna(options.default_currency)
    problems.add(codes.notna() & ~codes.isin(CURRENCIES), f"unknown {name} " + _quote(text))
    return codes


def human_date_format(strptime_format: str) -> str:
    """'%d/%m/%Y' -> 'dd/mm/yyyy': the way people write date formats in mapping files and errors."""
    return strptime_format.replace("%d", "dd").replace("%m", "mm").replace("%Y", "yyyy").replace("%y", "yy")


def strptime_format(human: str) -> str:
    """'dd/mm/yyyy' -> '%d/%m/%Y'. Formats already in strptime form pass through."""
    if "%" in human:
        return human
    out = human.lower()
    for token, code in (("yyyy", "%Y"), ("yy", "%y"), ("dd", "%d"), ("mm", "%m")):
        out = out.replace(token, code)
    return out


def validate(
    entity: Entity,
    rows: pd.DataFrame,
    options: ParseOptions,
    known_keys: KnownKeys,
    raw: pd.DataFrame | None = None,
) -> Validated:
    """Parse ``rows`` (canonical field names plus ``row_ref``) for ``entity``.

    ``raw`` is the row as the source wrote it (original column names), kept in quarantine so a person can
    fix it at the source; it defaults to ``rows``.
    """
    index = rows.index
    problems = _Problems(index)
    out = pd.DataFrame(index=index)
    texts = {f.name: _as_text(rows[f.name]) if f.name in rows else pd.Series(None, index=index, dtype=object)
             for f in entity.fields}

    for f in entity.fields:
        text = texts[f.name]
        garbled = text.str.contains(BAD_ENCODING_MARK, regex=False).fillna(False).astype(bool)
        problems.add(garbled, f"{f.name} has bytes that are not valid in the file's encoding")
        if f.kind is Kind.DATE:
            out[f.name] = _parse_dates(f.name, text, options, problems)
        elif f.kind is Kind.MONEY:
            out[f.name] = _parse_money(f.name, text, options, problems)
        elif f.kind is Kind.BOOL:
            out[f.name] = _parse_bools(f.name, text, options, problems)
        elif f.kind is Kind.INT:
            out[f.name] = _parse_ints(f.name, text, problems)
        elif f.kind is Kind.CURRENCY:
            out[f.name] = _parse_currencies(f.name, text, options, problems)
        else:
            out[f.name] = text

    for name in entity.required:
        problems.add(texts[name].isna() & (out[name].isna()), f"{name} is missing")

    _ENTITY_RULES.get(entity.name, _no_rules)(out, problems)
    _check_duplicate_keys(entity, out, problems)
    _check_references(entity, out, problems, known_keys)

    bad = problems.bad
    source_rows = raw if raw is not None else rows.drop(columns="row_ref")
    quarantined = pd.DataFrame(
        {
            "row_ref": rows.loc[bad, "row_ref"].astype(str),
            "reason": problems.reasons[bad],
            "raw_row": [json.dumps(r, default=str, ensure_ascii=False) for r in
                        source_rows.loc[bad].astype(object).where(source_rows.loc[bad].notna(), None).to_dict("records")],
        },
        index=index[bad],
    )
    return Validated(clean=out.loc[~bad], quarantined=quarantined, rows_in=len(rows))


def _no_rules(out: pd.DataFrame, problems: _Problems) -> None:
    return None


def _invoice_rules(out: pd.DataFrame, problems: _Problems) -> None:
    """Dates in order, open within amount, and a status the rest of arpilot understands."""
    early = out["due_date"].notna() & out["issue_date"].notna() & (out["due_date"] < out["issue_date"])
    problems.add(early, "due_date " + out["due_date"].astype(str) + " is before issue_date " + out["issue_date"].astype(str))

    settled = out["settled_date"].notna()
    out["open"] = out["open"].fillna(out["amount"].where(~settled, 0))
    over = (out["open"] > out["amount"]).fillna(False)
    problems.add(over, "open amount is larger than the invoice amount")

    status = out["status"].str.lower()
    status = status.fillna(pd.Series(np.where(out["open"].fillna(-1) == 0, "paid", "open"), index=out.index))
    problems.add(~status.isin(INVOICE_STATUSES), "status " + _quote(out["status"]) + " is not one of " + "/".join(INVOICE_STATUSES))
    out["open"] = out["open"].where(status != "void", 0)
    out["status"] = status


def _allocation_rules(out: pd.DataFrame, problems: _Problems) -> None:
    kinds = ("payment", "credit_note")
    out["document_kind"] = out["document_kind"].str.lower()
    problems.add(out["document_kind"].notna() & ~out["document_kind"].isin(kinds),
                 "document_kind " + _quote(out["document_kind"]) + " is not payment or credit_note")


_ENTITY_RULES = {INVOICES.name: _invoice_rules, ALLOCATIONS.name: _allocation_rules}


def _check_duplicate_keys(entity: Entity, out: pd.DataFrame, problems: _Problems) -> None:
    """A key twice in one extract: we cannot know which row is right, so neither is loaded."""
    keys = out[entity.key]
    dup = keys.notna() & keys.duplicated(keep=False)
    if dup.any():
        counts = keys[dup].map(keys[dup].value_counts())
        problems.add(dup, f"duplicate {entity.key} " + _quote(keys) + " appears " + counts.astype(str) + " times in this extract")


def _check_references(entity: Entity, out: pd.DataFrame, problems: _Problems, known_keys: KnownKeys) -> None:
    checks = [(ref.field, ref.entity, None) for ref in entity.references]
    if entity is ALLOCATIONS:
        checks += [("document_id", "payments", "payment"), ("document_id", "credit_notes", "credit_note")]
    for column, target, kind in checks:
        scope = out[column].notna() & ~problems.bad
        if kind is not None:
            scope &= out["document_kind"] == kind
        if not scope.any():
            continue
        wanted = out.loc[scope, column]
        found = known_keys(target, wanted.unique().tolist())
        missing = scope & ~out[column].isin(found)
        label = kind or target.rstrip("s")
        problems.add(missing, f"{column} " + _quote(out[column]) + f" names no known {label.replace('_', ' ')}")
