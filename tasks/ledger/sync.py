"""Sync the AR ledger into the warehouse: changed rows only, bad rows quarantined, counts that reconcile.

For each entity: extract what changed, validate, compare each clean row's fingerprint with the stored one,
write only new and changed rows, and quarantine the rest with their reasons, all in one transaction.
Per entity: rows read = inserted + updated + unchanged + quarantined.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import sqlalchemy as sa
from prefect import get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE
from sqlalchemy.engine import Connection, Engine

from blocks.ledger import LedgerSourceBlock, LedgerUnreachable
from blocks.runbook import runbook
from tasks import warehouse as wh
from tasks.ledger.entities import ALLOCATIONS, BY_NAME, INVOICES, Entity, Kind
from tasks.ledger.extract import LedgerExtract
from tasks.ledger.sources import LedgerReader, ledger_reader
from tasks.ledger.validation import TEXT, Validated, is_in, validate

QUARANTINE_ARTIFACT_ROWS = 500  # the rest stay in the warehouse's quarantine table


@dataclass
class EntitySync:
    entity: str
    read: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    quarantined: int = 0
    deleted: int = 0
    note: str = ""
    quarantine_reasons: dict[str, int] = field(default_factory=dict)  # kind of reason -> rows
    quarantine_sample: list[dict] = field(default_factory=list)

    @property
    def reconciles(self) -> bool:
        return self.read == self.inserted + self.updated + self.unchanged + self.quarantined


def row_fingerprints(rows: pd.DataFrame, columns: list[str]) -> pd.Series:
    """A 64-bit fingerprint of each row's synced fields; equal fingerprints mean nothing to write.

    The fields are joined as text (a blank and an empty value differ) and the joined text is hashed.
    """
    if rows.empty:
        return pd.Series(dtype="int64")
    parts = [pa.array(rows[c].astype(TEXT), from_pandas=True).cast(pa.large_string()) for c in columns]
    separator = pa.scalar("\x1f", pa.large_string())
    joined = pc.binary_join_element_wise(*parts, separator, null_handling="replace", null_replacement="\x00")
    text = pd.Series(pd.arrays.ArrowStringArray(joined.cast(pa.string())), index=rows.index)
    return pd.util.hash_pandas_object(text, index=False).astype("int64")


def reason_kinds(reasons: pd.Series) -> dict[str, int]:
    """Quarantine reasons grouped by kind, values blanked: "amount '…' is negative" -> rows, most first."""
    kinds = reasons.str.split("; ").explode().str.replace(r"'[^']*'|\b\d{4}-\d{2}-\d{2}\b|(?<=has )\d+|(?<=appears )\d+", "…", regex=True)
    return {k: int(n) for k, n in kinds.value_counts().items()}


def changes(clean: pd.DataFrame, key: str, fingerprints: pd.Series, stored: pd.Series) -> tuple[pd.Series, pd.Series]:
    """(is_new, is_changed) masks of ``clean`` against the fingerprints stored by key."""
    keys = clean[key].astype(object)
    is_new = ~keys.isin(stored.index)
    before = stored.astype("Int64").reindex(keys).to_numpy(dtype="int64", na_value=0)
    is_changed = ~is_new & pd.Series(before != fingerprints.to_numpy(), index=clean.index)
    return is_new, is_changed


def _warehouse_rows(entity: Entity, clean: pd.DataFrame, fingerprints: pd.Series, synced_at: str) -> pd.DataFrame:
    out = pd.DataFrame({f.warehouse_column: clean[f.name] for f in entity.fields}, index=clean.index)
    for f in entity.fields:
        if f.kind is Kind.BOOL:
            out[f.warehouse_column] = out[f.warehouse_column].fillna(False).astype(bool)
    out["row_hash"] = fingerprints
    out["synced_at"] = synced_at
    return out


def _quarantine_rows(run_id: str, source: str, entity: str, extract: LedgerExtract, validated: Validated,
                     at: str) -> pd.DataFrame:
    columns = ["row_ref", "row_key", "reason", "awaits_reference", "raw_row"]
    parts = [p.reindex(columns=columns) for p in (extract.rejected, validated.quarantined) if p is not None]
    rows = pd.concat(parts, ignore_index=True)
    rows["awaits_reference"] = rows["awaits_reference"].eq(True)
    rows.insert(0, "seq", range(len(rows)))
    rows.insert(0, "entity", entity)
    rows.insert(0, "source", source)
    rows.insert(0, "run_id", run_id)
    rows["quarantined_at"] = at
    return rows


class InvoiceDeletionRefused(RuntimeError):
    """The extract would mark more invoices deleted than a sound one plausibly would; nothing was written."""


def _invoices_gone(conn: Connection, ledger_numbers: pd.Series) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(gone, active): the invoices the warehouse holds, not yet deleted, and those of them the ledger no longer
    lists; both with invoice_number and status."""
    active = wh.query_frame(conn, "SELECT invoice_number, status FROM invoices WHERE status <> 'deleted'")
    return active[~is_in(active["invoice_number"], ledger_numbers)], active


def deletion_excess(gone: pd.DataFrame, active: pd.DataFrame, max_share: float) -> str | None:
    """Why marking ``gone`` deleted is more than a sound extract plausibly deletes in one night, or None.

    A cut-off or damaged export looks exactly like invoices deleted in the ledger, so one sync may delete at
    most ``max_share`` of the open invoices, and of all the invoices the warehouse holds.
    """
    for what, part, whole in (("open invoices", gone["status"].eq("open").sum(), active["status"].eq("open").sum()),
                              ("invoices", len(gone), len(active))):
        if whole and part / whole > max_share:
            return f"{part} of the warehouse's {whole} {what} ({part / whole:.1%}), more than the limit of {max_share:.1%}"
    return None


def _check_deletions(source: LedgerReader, extract: LedgerExtract, gone: pd.DataFrame, active: pd.DataFrame,
                    confirmed: int) -> None:
    """Refuse, before anything is written, deletions that are too many, or that come from an extract with rows
    too broken to split into fields, unless this run confirms at least that many (``confirmed``)."""
    if gone.empty or len(gone) <= confirmed:
        return
    shape_errors = extract.rejected if extract.rejected is not None and len(extract.rejected) else None
    if shape_errors is not None:
        first = shape_errors.iloc[0]
        why = (f", and {len(shape_errors)} of its rows could not be split into fields (first: {first['row_ref']}: "
               f"{first['reason']}); an export with damaged rows never deletes invoices")
    else:
        excess = deletion_excess(gone, active, source.block.max_deleted_share)
        if excess is None:
            return
        why = f": {excess} ({source.block.setting('max_deleted_share')})"
    example = ", ".join(gone["invoice_number"].astype(str).head(5)) + (", ..." if len(gone) > 5 else "")
    raise InvoiceDeletionRefused(
        f"Ledger sync stopped: {extract.origin or source.describe()} would mark {len(gone)} invoice(s) deleted "
        f"({example}){why}. Nothing was written for invoices and nothing was deleted. If the extract is "
        f"incomplete or damaged, fix it and run again; if these invoices really were removed from the ledger, "
        f"confirm it by running the nightly flow once with the parameter confirm_deleted_invoices={len(gone)}. "
        f"{runbook('snapshot-refused')}"
    )


def _mark_deleted(conn: Connection, gone: pd.DataFrame, at: str) -> int:
    """Invoices gone from the ledger stay in the warehouse as 'deleted' with nothing open (history kept)."""
    if len(gone):
        conn.execute(
            sa.text("UPDATE invoices SET status = 'deleted', open_cents = 0, row_hash = 0, synced_at = :at "
                    "WHERE invoice_number = :number"),
            [{"at": at, "number": n} for n in gone["invoice_number"]],
        )
    return len(gone)


@wh.bulk_work()
def sync_entity(block: LedgerSourceBlock, engine: Engine, entity: Entity, run_id: str,
                default_currency: str | None = None, confirm_deleted_invoices: int = 0) -> EntitySync:
    """Sync one entity from the ledger ``block`` names into the warehouse behind ``engine``.

    ``default_currency`` (the company's) applies to rows that name no currency when the source sets none.
    ``confirm_deleted_invoices``: up to this many invoices may be marked deleted even where the deletion
    guard (see ``_check_deletions``) would stop the sync: a deliberate clean-up in the ledger.
    """
    source = ledger_reader(block)
    name = source.ledger_name()
    with engine.connect() as conn:
        state = wh.read_sync_state(conn, name, entity.name)
        awaiting = wh.awaiting_reference(conn, name, entity.name, (state or {}).get("run_id"))
    extract = source.extract(entity.name, state, awaiting)
    if extract.unchanged:
        return EntitySync(entity.name, note="export unchanged since the last sync: not read")

    at = wh.utcnow()
    with engine.begin() as conn:

        def known_keys(target: str, keys: list[str]) -> pd.Series:
            target_entity = BY_NAME[target]
            return wh.existing_keys(conn, target_entity.table, target_entity.key, keys)

        options = extract.options
        if options.default_currency is None and default_currency:
            options = replace(options, default_currency=default_currency)
        validated = validate(entity, extract.rows, options, known_keys, raw=extract.raw)
        clean = validated.clean
        fingerprints = row_fingerprints(clean, [f.name for f in entity.fields])
        stored = wh.row_hashes(conn, entity.table, entity.key, clean[entity.key].tolist())
        is_new, is_changed = changes(clean, entity.key, fingerprints, stored)
        to_write = is_new | is_changed
        rows = _warehouse_rows(entity, clean[to_write], fingerprints[to_write], at)
        had_rows = not stored.empty or not wh.is_empty(conn, entity.table)
        gone = None
        if entity is INVOICES and had_rows:  # into an empty warehouse nothing can have been deleted
            numbers = extract.ledger_keys if extract.ledger_keys is not None else source.invoice_numbers()
            if numbers is not None:
                gone, active = _invoices_gone(conn, numbers)
                _check_deletions(source, extract, gone, active, confirm_deleted_invoices)
        wh.insert(conn, entity.table, rows[is_new[to_write]])
        wh.upsert(conn, entity.table, entity.key, rows[is_changed[to_write]])
        quarantine = _quarantine_rows(run_id, name, entity.name, extract, validated, at)
        wh.insert(conn, "quarantine", quarantine)
        deleted = _mark_deleted(conn, gone, at) if gone is not None else 0
        wh.write_sync_state(conn, name, entity.name, extract.watermark, extract.fingerprint, run_id)
        if entity is ALLOCATIONS:  # the ERP's allocation of a payment arpilot took replaces arpilot's
            conn.execute(sa.text(wh.named_query("charges", "retire_provisional")))

    sample = quarantine.head(QUARANTINE_ARTIFACT_ROWS)[["entity", "row_ref", "reason", "raw_row"]]

    return EntitySync(
        entity.name,
        read=extract.rows_read,
        inserted=int(is_new.sum()),
        updated=int(is_changed.sum()),
        unchanged=int((~to_write).sum()),
        quarantined=len(quarantine),
        deleted=deleted,
        note="; ".join(extract.notes),
        quarantine_reasons=reason_kinds(quarantine["reason"]) if len(quarantine) else {},
        quarantine_sample=sample.to_dict("records"),
    )


def _transient(task, task_run, state) -> bool:
    """Retry only an unreachable source; a bad mapping or query, or a refused deletion, fails at once."""
    try:
        state.result()
    except LedgerUnreachable:
        return True
    except Exception:
        return False
    return False


@task(task_run_name="sync-{entity_name}", cache_policy=NO_CACHE, retry_condition_fn=_transient)
def sync_ledger_entity(source: LedgerSourceBlock, warehouse, entity_name: str, run_id: str,
                       default_currency: str | None = None, confirm_deleted_invoices: int = 0) -> EntitySync:
    logger = get_run_logger()
    result = sync_entity(source, warehouse.engine(), BY_NAME[entity_name], run_id, default_currency,
                         confirm_deleted_invoices)
    logger.info(
        "%s from %s: read %d, inserted %d, updated %d, unchanged %d, quarantined %d, deleted %d %s",
        entity_name, ledger_reader(source).describe(), result.read, result.inserted, result.updated, result.unchanged,
        result.quarantined, result.deleted, result.note,
    )
    if result.quarantined:
        logger.warning("%d %s row%s quarantined: see the ledger-quarantine artifact", result.quarantined, entity_name,
                       "" if result.quarantined == 1 else "s")
    return result


@task(task_run_name="publish-sync-artifacts", cache_policy=NO_CACHE)
def publish_sync_artifacts(results: list[EntitySync], source_description: str, run_id: str) -> None:
    """The two tables a controller reads: what the sync did per entity, and which rows it refused and why."""
    table = [{k: v for k, v in asdict(r).items() if not k.startswith("quarantine_")} | {"quarantined": r.quarantined}
             for r in results]
    create_table_artifact(
        key="ledger-sync",
        table=table,
        description=f"Ledger sync from {source_description}: rows read = inserted + updated + unchanged + quarantined.",
    )
    quarantined = sum(r.quarantined for r in results)
    sample = [row for r in results for row in r.quarantine_sample][:QUARANTINE_ARTIFACT_ROWS]
    if sample:
        by_reason = [{"entity": r.entity, "reason": k, "rows": n} for r in results for k, n in r.quarantine_reasons.items()]
        create_table_artifact(key="ledger-quarantine-reasons", table=by_reason,
                              description="Quarantined ledger rows by kind of reason (values blanked).")
        create_table_artifact(
            key="ledger-quarantine",
            table=sample,
            description=(
                f"{quarantined} ledger row(s) quarantined in this run (showing {len(sample)}). Fix them in the "
                f"ledger; they load on the next run after they change. All rows: warehouse table `quarantine`, "
                f"run_id = '{run_id}'."
            ),
        )
    else:
        create_markdown_artifact(key="ledger-quarantine", markdown="No ledger rows quarantined in this run.")
