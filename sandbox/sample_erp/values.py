"""Vectorised draws and value formats the sample ERP builds its tables from (dates, timestamps, numbers, names)."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

import numpy as np
import pandas as pd

from sandbox.sample_erp.world import UNITS_PER_USD

Table = dict[str, Sequence]  # column name -> values, in schema order

def pick_rows(rng: np.random.Generator, population: int | np.ndarray, counts: dict[str, int]) -> dict[str, np.ndarray]:
    """Disjoint random subsets (sorted), one per kind, so each kind is written exactly `counts[kind]` times."""
    shuffled = rng.permutation(population)
    ends = np.cumsum(list(counts.values()), dtype=np.int64)
    return {kind: np.sort(shuffled[end - n:end]) for (kind, n), end in zip(counts.items(), ends)}


def repeat_number(keys: list[str]) -> np.ndarray:
    """'' for the first occurrence of each key, then '2', '3', ...: appended, repeated names become unique."""
    seen = pd.Series(keys).groupby(keys).cumcount().to_numpy()
    return np.where(seen > 0, (seen + 1).astype(str), "").astype(object)


def flag_rows(size: int, rows: np.ndarray) -> np.ndarray:
    """0/1 column with 1 on `rows`."""
    flags = np.zeros(size, dtype=np.int64)
    flags[rows] = 1
    return flags


def draw_index(rng: np.random.Generator, lists: Sequence[Sequence], group: np.ndarray) -> np.ndarray:
    """For each row, a random position in the flattened `lists`, within the list its `group` names."""
    sizes = np.array([len(items) for items in lists])
    starts = np.cumsum(sizes) - sizes
    return starts[group] + (rng.random(group.size) * sizes[group]).astype(np.int64)


def draw_from(rng: np.random.Generator, lists: Sequence[Sequence[str]], group: np.ndarray) -> np.ndarray:
    return np.array([item for items in lists for item in items], dtype=object)[draw_index(rng, lists, group)]


def currency_unit(currency: np.ndarray) -> np.ndarray:
    """Smallest amount in cents: JPY has no minor unit."""
    return np.where(currency == "JPY", 100, 1)


def from_usd(usd: np.ndarray, currency: np.ndarray) -> np.ndarray:
    """USD amounts converted to cents of `currency`, whole yen for JPY."""
    units_per_usd = pd.Series(currency).map(UNITS_PER_USD).to_numpy(dtype=float)
    return in_units(usd * units_per_usd * 100, currency_unit(currency))


def in_units(cents: np.ndarray, unit: np.ndarray | int) -> np.ndarray:
    """Float cents rounded to whole multiples of `unit` cents, as int64."""
    return (np.rint(cents / unit) * unit).astype(np.int64)


def numbered(prefix: str, numbers: np.ndarray, width: int) -> np.ndarray:
    return np.array([f"{prefix}{n:0{width}d}" for n in numbers.tolist()], dtype=object)


def iso_dates(days: np.ndarray) -> np.ndarray:
    """Days since 1970-01-01 as 'YYYY-MM-DD', through a lookup table: a million dates in milliseconds."""
    first = days.min(initial=0)
    return np.arange(first, days.max(initial=0) + 1).astype("datetime64[D]").astype("<U10")[days - first]


_CLOCK = np.array([f"{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}" for s in range(86_400)])


def random_seconds(rng: np.random.Generator, days: np.ndarray) -> np.ndarray:
    """A moment in office hours (08:00-19:00) of each day, as seconds since 1970-01-01."""
    return days * 86_400 + rng.integers(8 * 3600, 19 * 3600, days.size)


def iso_timestamps(seconds: np.ndarray) -> np.ndarray:
    days, second = np.divmod(seconds, 86_400)
    return np.strings.add(np.strings.add(iso_dates(days), " "), _CLOCK[second])


def random_timestamps(rng: np.random.Generator, days: np.ndarray) -> np.ndarray:
    return iso_timestamps(random_seconds(rng, days))


_GERMAN_LETTERS = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss", "Ä": "Ae", "Ö": "Oe", "Ü": "Ue"})


def _ascii(text: str) -> str:
    text = text.translate(_GERMAN_LETTERS)
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()


def domain_slug(text: str, keep_unicode: bool = False) -> str:
    text = text.lower() if keep_unicode else _ascii(text).lower()
    return re.sub(r"[^\w]+", "-", text).strip("-")


def mailbox_local_part(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", _ascii(name).lower())

