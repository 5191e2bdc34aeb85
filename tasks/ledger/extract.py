"""What a ledger source hands the sync: one entity's changed rows, and how far the source has got."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from tasks.ledger.validation import ParseOptions


@dataclass
class LedgerExtract:
    entity: str
    rows: pd.DataFrame  # canonical field names plus row_ref (where the row sits in the source)
    raw: pd.DataFrame | None = None  # the rows as the source wrote them, for quarantine; None: same as rows
    rejected: pd.DataFrame | None = None  # rows too broken to split into fields: row_ref, reason, raw_row
    options: ParseOptions = field(default_factory=ParseOptions)
    watermark: str | None = None  # newest change seen (SQL sources)
    fingerprint: str | None = None  # content hash (file exports)
    unchanged: bool = False  # the source says nothing changed since the last sync
    ledger_keys: pd.Series | None = None  # every key the ledger holds now, when the source read them all
    notes: list[str] = field(default_factory=list)
    origin: str | None = None  # the export the rows came from, for messages; None: the source as a whole

    @property
    def rows_read(self) -> int:
        return len(self.rows) + (0 if self.rejected is None else len(self.rejected))

