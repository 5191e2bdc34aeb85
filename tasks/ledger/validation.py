"""Validate extracted ledger rows: parse them into warehouse types or quarantine them with a reason.

Pure functions over pandas frames, vectorised so a million invoices validate in seconds. Nothing is ever
dropped: every input row ends up either in ``clean`` or in ``quarantined`` with every reason it failed.
"""

from __future__ import annotations

import json
import numbers
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from blocks.company import CURRENCIES
from tasks.ledger.entities import ALLOCATIONS, EXCHANGE_RATES, INVOICE_STATUSES, INVOICES, Entity, Kind

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


KnownKeys = Callable[[str, list[str]], Iterable[str]]
"""known_keys(entity_name, candidate_keys) -> keys that exist (in the warehouse): every candidate that
exists, and possibly other keys too."""


TEXT = pd.StringDtype("pyarrow")  # Arrow-backed text: vectorised string kernels, pd.NA for blanks

Message = str | Callable[[pd.Series], pd.Series]
"""A reason: fixed text, or a function of the failing rows' mask giving one text per failing row."""


class _Problems:
    """Collects reasons per row; a row with any reason is quarantined."""

    def __init__(self, index: pd.Index):
        self.reasons = pd.Series("", index=index, dtype=object)
        self.bad = pd.Series(False, index=index)
        self.only_missing_references = pd.Series(False, index=index)

    def add(self, mask: pd.Series, message: Message, missing_reference: bool = False) -> None:
        mask = mask.fillna(False).astype(bool)
        if not mask.any():
            return
        text = message(mask) if callable(message) else message
        current = self.reasons[mask]
        self.reasons[mask] = current.where(current == "", current + "; ") + text
        self.only_missing_references = (self.only_missing_references | mask) if missing_reference else (
            self.only_missing_references & ~mask)
        self.bad |= mask


def _said(name: str, values: pd.Series, complaint: str) -> Callable[[pd.Series], pd.Series]:
    """"<field> '<value as written>' <complaint>", built only for the rows that fail."""
    return lambda mask: f"{name} '" + values[mask].astype(str) + f"' {complaint}"


def _as_text(values: pd.Series) -> pd.Series:
    """Source values as trimmed Arrow text, NA for blanks.

    Arrow's casts are exact for every type a source hands us: a REAL 1234.5 prints '1234.5', a DECIMAL
    '19.99', dates and timestamps ISO. Columns mixing types (a spreadsheet with 'n/a' among numbers)
    fall back to str() per value.
    """
    try:
        arrow = pa.array(values, from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        objects = values.to_numpy(dtype=object)
        present = ~pd.isna(objects)
        text = np.full(len(objects), None, dtype=object)
        text[present] = [str(v) for v in objects[present]]
        arrow = pa.array(text, type=pa.string())
    if not pa.types.is_string(arrow.type):
        arrow = arrow.cast(pa.string())
    text = pd.Series(pd.arrays.ArrowStringArray(pc.utf8_trim_whitespace(arrow)), index=values.index)
    return text.mask(text == "")


def is_in(values: pd.Series, candidates: Iterable[str]) -> pd.Series:
    """Membership that stays fast for large candidate sets (pandas boxes each candidate of an Arrow isin)."""
    arrow = pa.array(values.astype(TEXT), from_pandas=True)
    if not isinstance(candidates, pd.Series):
        candidates = list(candidates)
    value_set = pa.array(candidates, type=pa.string(), from_pandas=True).cast(arrow.type)
    return pd.Series(pc.is_in(arrow, value_set=value_set).fill_null(False).to_numpy(zero_copy_only=False),
                     index=values.index)


def _native_numbers(rows: pd.DataFrame, name: str, options: ParseOptions) -> pd.Series:
    """Which values of column ``name`` the source held as numbers rather than as text (only where it matters:
    an export whose text writes numbers differently from how numbers print)."""
    kind = pd.api.types.infer_dtype(rows[name], skipna=True) if name in rows else "empty"
    if kind in ("string", "empty") or (options.decimal == "." and not options.thousands):
        return pd.Series(False, index=rows.index)
    if kind in ("integer", "floating", "decimal", "mixed-integer-float"):
        return pd.Series(True, index=rows.index)
    return rows[name].map(lambda v: isinstance(v, numbers.Number) and not isinstance(v, bool)).astype(bool)


def _blank(index: pd.Index) -> pd.Series:
    return pd.Series(pd.NA, index=index, dtype=TEXT)


# An ISO date, optionally with a time of day: anything else after the date is not a date.
_ISO_DATE_TIME = r"\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?([+-]\d{2}:?\d{2}|Z)?)?"


def _parse_dates(name: str, text: pd.Series, options: ParseOptions, problems: _Problems) -> pd.Series:
    present = text.notna()
    parsed = pd.to_datetime(text, format=options.date_format, errors="coerce")
    retry = present & parsed.isna() & text.str.fullmatch(_ISO_DATE_TIME).fillna(False).astype(bool)
    if retry.any():
        # Native dates from Parquet/Excel and source timestamps ("2026-11-23 14:05:00") print as ISO,
        # whatever format the file's text dates use; the time of day does not matter to AR.
        iso = pd.to_datetime(text[retry].str.slice(0, 10), format="%Y-%m-%d", errors="coerce")
        parsed[retry] = iso
    problems.add(present & parsed.isna(), _said(name, text, f"is not a date in the format {human_date_format(options.date_format)}"))
    return parsed.dt.strftime("%Y-%m-%d").astype(TEXT)


# Up to 13 integer digits keeps amount * 100 well inside a float's exact integers, so rounding is exact.
_AMOUNT = r"[+-]?\d{1,13}(\.\d{1,2}0*)?"
_WHOLE = r"[+-]?\d{1,9}(\.0+)?"
_GROUPING_SPACES = " \u00a0\u202f"  # spaces people and locales group digits with, whatever `thousands` says


def _one_of(characters: str) -> str:
    """A regex character class matching any one of ``characters``."""
    return "[" + "".join("\\" + c if c in "\\]^-[" else c for c in characters) + "]"


def _plain_numbers(name: str, text: pd.Series, options: ParseOptions, problems: _Problems,
                   native: pd.Series) -> pd.Series:
    """Numbers as the source wrote them -> plain digits with a '.' decimal point ('1.234,56' -> '1234.56').

    A thousands separator (the declared one, or a space) is valid only between groups of three digits, so with
    ``thousands: "."`` the text '50.39' is refused, never read as 5039. ``native`` marks values the source
    held as numbers (Parquet, Excel, SQL): they print with a '.' decimal point and no grouping whatever the
    export's text format is, so the separators are not applied to them.
    """
    separator = _one_of(options.thousands + _GROUPING_SPACES)
    decimal = re.escape(options.decimal)
    written = text.str.replace(separator, "", regex=True)
    if options.decimal != ".":
        written = written.str.replace(options.decimal, ".", regex=False)
    grouped = text.str.fullmatch(rf"[+-]?\d{{1,3}}(?:{separator}\d{{3}})+(?:{decimal}\d+)?")
    misplaced = (text.str.contains(separator) & ~grouped & written.str.fullmatch(r"[+-]?\d+(\.\d+)?")
                 ).fillna(False).astype(bool) & ~native
    problems.add(misplaced, _said(name, text, f"has a thousands separator that is not between groups of three "
                                              f"digits (the export writes thousands '{options.thousands or ' '}', "
                                              f"decimals '{options.decimal}')"))
    return written.where(~native, text).mask(misplaced)


def _parse_money(name: str, text: pd.Series, options: ParseOptions, problems: _Problems,
                 native: pd.Series) -> pd.Series:
    """Exact integer cents from the amount as written; more than 2 decimals is refused, never rounded."""
    normal = _plain_numbers(name, text, options, problems, native)
    well_formed = normal.str.fullmatch(_AMOUNT).fillna(False).astype(bool)
    problems.add(normal.notna() & ~well_formed, _said(name, text, "is not an amount with at most 2 decimals"))
    cents = (pd.to_numeric(normal.where(well_formed), errors="coerce") * 100).round().astype("Int64")
    problems.add(cents < 0, _said(name, text, "is negative"))
    return cents


def _parse_bools(name: str, text: pd.Series, options: ParseOptions, problems: _Problems) -> pd.Series:
    lowered = text.str.lower()
    truthy = lowered.isin([v.lower() for v in options.true_values])
    falsy = lowered.isin([v.lower() for v in options.false_values])
    expected = "/".join(options.true_values[:1] + options.false_values[:1])
    problems.add(text.notna() & ~truthy & ~falsy, _said(name, text, f"is not a yes/no value (expected {expected})"))
    return truthy.fillna(False).astype(bool)


def _parse_ints(name: str, text: pd.Series, options: ParseOptions, problems: _Problems,
                native: pd.Series) -> pd.Series:
    normal = _plain_numbers(name, text, options, problems, native)
    valid = normal.str.fullmatch(_WHOLE).fillna(False).astype(bool)
    problems.add(normal.notna() & ~valid, _said(name, text, "is not a whole number"))
    return pd.to_numeric(normal.where(valid), errors="coerce").astype("Int64")


def _parse_currencies(name: str, text: pd.Series, options: ParseOptions, problems: _Problems) -> pd.Series:
    codes = text.str.upper()
    if options.default_currency:
        codes = codes.fillna(options.default_currency.upper())
    unknown = codes.notna() & ~codes.isin(CURRENCIES)
    problems.add(unknown & text.notna(), lambda mask: f"unknown {name} '" + text[mask].astype(str) + "'")
    # A row naming none took the default: say so, since there is nothing on the row to quote.
    problems.add(unknown & text.isna(), f"{name} is missing and the default {name} '{options.default_currency}' "
                                        "is not an ISO 4217 currency")
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
    texts = {f.name: _as_text(rows[f.name]) if f.name in rows else _blank(index) for f in entity.fields}

    for f in entity.fields:
        text = texts[f.name]
        garbled = text.str.contains(BAD_ENCODING_MARK, regex=False).fillna(False).astype(bool)
        problems.add(garbled, f"{f.name} has bytes that are not valid in the file's encoding")
        if f.kind is Kind.DATE:
            out[f.name] = _parse_dates(f.name, text, options, problems)
        elif f.kind is Kind.MONEY:
            out[f.name] = _parse_money(f.name, text, options, problems, _native_numbers(rows, f.name, options))
        elif f.kind is Kind.BOOL:
            out[f.name] = _parse_bools(f.name, text, options, problems)
        elif f.kind is Kind.INT:
            out[f.name] = _parse_ints(f.name, text, options, problems, _native_numbers(rows, f.name, options))
        elif f.kind is Kind.CURRENCY:
            out[f.name] = _parse_currencies(f.name, text, options, problems)
        else:
            out[f.name] = text

    for name in entity.required:
        problems.add(texts[name].isna() & (out[name].isna()), f"{name} is missing")

    _ENTITY_RULES.get(entity.name, _no_rules)(out, problems, texts)
    _check_duplicate_keys(entity, out, problems)
    _check_references(entity, out, problems, known_keys)

    bad = problems.bad
    source_rows = (raw if raw is not None else rows.drop(columns="row_ref")).loc[bad].astype(object)
    quarantined = pd.DataFrame(
        {
            "row_ref": rows.loc[bad, "row_ref"].astype(str),
            "row_key": out.loc[bad, entity.key].astype(object),
            "reason": problems.reasons[bad],
            "awaits_reference": problems.only_missing_references[bad],
            "raw_row": [json.dumps(r, default=str, ensure_ascii=False)
                        for r in source_rows.where(source_rows.notna(), None).to_dict("records")],
        },
        index=index[bad],
    )
    return Validated(clean=out.loc[~bad], quarantined=quarantined, rows_in=len(rows))


def _no_rules(out: pd.DataFrame, problems: _Problems, texts: dict[str, pd.Series]) -> None:
    return None


def _invoice_rules(out: pd.DataFrame, problems: _Problems, texts: dict[str, pd.Series]) -> None:
    """Dates in order, open within amount, and a status the rest of arpilot understands."""
    for later in ("due_date", "settled_date"):
        early = out[later].notna() & out["issue_date"].notna() & (out[later] < out["issue_date"])
        problems.add(early, lambda m: f"{later} " + out[later][m].astype(str) + " is before issue_date "
                     + out["issue_date"][m].astype(str))

    settled = out["settled_date"].notna()
    out["open"] = out["open"].fillna(out["amount"].where(~settled, 0))
    over = (out["open"] > out["amount"]).fillna(False)
    problems.add(over, "open amount is larger than the invoice amount")

    status = out["status"].str.lower()
    status = status.fillna(pd.Series(np.where(out["open"].fillna(-1) == 0, "paid", "open"), index=out.index))
    problems.add(~status.isin(INVOICE_STATUSES), _said("status", out["status"], "is not one of " + "/".join(INVOICE_STATUSES)))
    out["open"] = out["open"].where(status != "void", 0)
    out["status"] = status


def _allocation_rules(out: pd.DataFrame, problems: _Problems, texts: dict[str, pd.Series]) -> None:
    kinds = ("payment", "credit_note")
    out["document_kind"] = out["document_kind"].str.lower()
    problems.add(out["document_kind"].notna() & ~out["document_kind"].isin(kinds),
                 _said("document_kind", out["document_kind"], "is not payment or credit_note"))


def _rate_rules(out: pd.DataFrame, problems: _Problems, texts: dict[str, pd.Series]) -> None:
    """A rate is a positive decimal number as written (never parsed through a float), and names its currency: the
    ledger's default currency is no rate's currency."""
    problems.add(texts["currency"].isna(), "currency is missing: a rate names the currency it converts")
    rate = out["rate"].str.strip()
    plain = rate.str.fullmatch(r"\d+(\.\d+)?").fillna(False).astype(bool)
    positive = plain & rate.str.contains(r"[1-9]", regex=True).fillna(False).astype(bool)
    problems.add(rate.notna() & ~positive, _said("rate", out["rate"], "is not a positive decimal number"))
    out["rate"] = rate


_ENTITY_RULES = {INVOICES.name: _invoice_rules, ALLOCATIONS.name: _allocation_rules,
                 EXCHANGE_RATES.name: _rate_rules}


def _check_duplicate_keys(entity: Entity, out: pd.DataFrame, problems: _Problems) -> None:
    """A key twice in one extract: we cannot know which row is right, so neither is loaded."""
    keys = out[entity.key]
    dup = keys.notna() & keys.duplicated(keep=False)
    if dup.any():
        counts = keys[dup].map(keys[dup].value_counts()).astype(str)
        problems.add(dup, lambda m: f"duplicate {entity.key} '" + keys[m].astype(str) + "' appears " + counts[m]
                     + " times in this extract")


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
        found = known_keys(target, out.loc[scope, column].unique().tolist())
        missing = scope & ~is_in(out[column], found)
        label = kind or target.rstrip("s")
        problems.add(missing, _said(column, out[column], f"names no known {label.replace('_', ' ')}"),
                     missing_reference=True)
