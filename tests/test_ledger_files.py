"""File exports: a mapping file alone loads a real ERP export; malformed files never crash the sync."""

from __future__ import annotations

import textwrap

import pandas as pd
import pytest
import sqlalchemy as sa

from blocks.ledger import FileLedgerSource
from tasks.ledger.entities import CUSTOMERS, ENTITIES, INVOICES
from tasks.ledger.files import MappingError, load_mapping
from tasks.ledger.sync import InvoiceDeletionRefused, sync_entity

# The shape of a real ERP invoice export (IBM's "accounts receivable" sample), with European formats.
EXPORT = """\
countryCode,customerID,PaperlessDate,invoiceNumber,InvoiceDate,DueDate,InvoiceAmount,Disputed,SettledDate,PaperlessBill,DaysToSettle,DaysLate
391,0379-NEVHP,4/6/2013,611365,02/01/2026,01/02/2026,"55,94",No,15/01/2026,Paper,13,0
406,8976-AMJEO,3/3/2012,7900770,26/01/2026,25/02/2026,"61,74",Yes,,Electronic,,
391,2820-XGXSB,1/26/2012,9231909,27/07/2025,26/08/2025,"1.065,88",No,,Electronic,,
"""

MAPPING = """\
source: acme-export
date_format: dd/mm/yyyy
decimal: ","
thousands: "."
currency: EUR
true_values: ["Yes"]
false_values: ["No"]
invoices:
  file: invoices.csv
  columns:
    customer_id: customerID
    invoice_number: invoiceNumber
    issue_date: InvoiceDate
    due_date: DueDate
    amount: InvoiceAmount
    disputed: Disputed
    settled_date: SettledDate
"""


def write_export(folder, export=EXPORT, mapping=MAPPING, encoding="utf-8"):
    (folder / "invoices.csv").write_bytes(export.encode(encoding) if isinstance(export, str) else export)
    (folder / "mapping.yaml").write_text(mapping)
    return FileLedgerSource(mapping_path=str(folder / "mapping.yaml"))


def sync_all(source, engine, run="run-1"):
    return {e.name: sync_entity(source, engine, e, run) for e in (CUSTOMERS, INVOICES)}


def test_a_mapping_file_alone_loads_a_real_erp_export(tmp_path, warehouse):
    source = write_export(tmp_path)
    results = sync_all(source, warehouse)
    assert (results["customers"].inserted, results["invoices"].inserted) == (3, 3)
    assert "ignored column(s) ['countryCode', 'PaperlessDate', 'PaperlessBill'" in results["invoices"].note
    with warehouse.connect() as conn:
        rows = conn.execute(sa.text(
            "SELECT invoice_number, customer_id, issue_date, due_date, currency, amount_cents, open_cents, status, disputed "
            "FROM invoices ORDER BY invoice_number")).all()
    as_text = [tuple(str(v) for v in r) for r in rows]
    assert as_text == [
        ("611365", "0379-NEVHP", "2026-01-02", "2026-02-01", "EUR", "5594", "0", "paid", "False"),
        ("7900770", "8976-AMJEO", "2026-01-26", "2026-02-25", "EUR", "6174", "6174", "open", "True"),
        ("9231909", "2820-XGXSB", "2025-07-27", "2025-08-26", "EUR", "106588", "106588", "open", "False"),
    ] or as_text == [  # SQLite hands booleans back as 0/1
        ("611365", "0379-NEVHP", "2026-01-02", "2026-02-01", "EUR", "5594", "0", "paid", "0"),
        ("7900770", "8976-AMJEO", "2026-01-26", "2026-02-25", "EUR", "6174", "6174", "open", "1"),
        ("9231909", "2820-XGXSB", "2025-07-27", "2025-08-26", "EUR", "106588", "106588", "open", "0"),
    ]


def test_an_unchanged_export_is_not_read_again_and_a_changed_one_touches_only_its_changes(tmp_path, warehouse):
    source = write_export(tmp_path)
    sync_all(source, warehouse)
    again = sync_all(source, warehouse, "run-2")
    assert all(r.read == r.inserted == r.updated == 0 for r in again.values())
    assert "unchanged" in again["invoices"].note

    changed = EXPORT.replace('"61,74",Yes,,', '"61,74",Yes,20/02/2026,')  # 7900770 settled
    write_export(tmp_path, export=changed)
    third = sync_all(source, warehouse, "run-3")["invoices"]
    assert (third.read, third.inserted, third.updated, third.unchanged) == (3, 0, 1, 2)


def many_invoices(count: int) -> str:
    """An export of ``count`` open invoices N-0000, N-0001, ... with no quoted field anywhere."""
    header = EXPORT.splitlines()[0]
    return "\n".join([header] + [f"391,C-{i % 7},x,N-{i:04d},02/01/2026,01/03/2026,{100 + i},No,,Paper,,"
                                  for i in range(count)]) + "\n"


def invoice_statuses(engine) -> dict[str, str]:
    with engine.connect() as conn:
        return dict(conn.execute(sa.text("SELECT invoice_number, status FROM invoices")).all())


def test_an_invoice_gone_from_the_export_is_marked_deleted_within_the_limit_or_when_confirmed(tmp_path, warehouse):
    source = write_export(tmp_path, export=many_invoices(300))
    sync_all(source, warehouse)
    lines = many_invoices(300).splitlines(keepends=True)
    write_export(tmp_path, export="".join(lines[:-10]))  # 10 of 300 open invoices gone: 3.3 %
    with pytest.raises(InvoiceDeletionRefused) as err:
        sync_all(source, warehouse, "run-2")
    assert str(err.value).startswith(
        f"Ledger sync stopped: {tmp_path / 'invoices.csv'} would mark 10 invoice(s) deleted (N-0290, N-0291, N-0292, "
        "N-0293, N-0294, ...): 10 of the warehouse's 300 open invoices (3.3%), more than the limit of 2.0% "
        "(max_deleted_share in the ledger block). Nothing was written for invoices and nothing was deleted.")
    assert "running the nightly flow once with the parameter confirm_deleted_invoices=10." in str(err.value)
    assert str(err.value).endswith("Runbook: README.md#runbook-snapshot-refused")
    assert set(invoice_statuses(warehouse).values()) == {"open"}

    assert sync_entity(source, warehouse, INVOICES, "run-2", confirm_deleted_invoices=10).deleted == 10
    write_export(tmp_path, export="".join(lines[:-15]))  # 5 more of the 290 open: 1.7 %, within the limit
    assert sync_entity(source, warehouse, INVOICES, "run-3").deleted == 5
    write_export(tmp_path, export="".join(lines[:-25]))  # 10 of 285: 3.5 %, within a raised limit
    raised = FileLedgerSource(mapping_path=source.mapping_path, max_deleted_share=0.05)
    assert sync_entity(raised, warehouse, INVOICES, "run-4").deleted == 10
    with warehouse.connect() as conn:
        status = conn.execute(sa.text("SELECT status, open_cents FROM invoices WHERE invoice_number = 'N-0299'")).one()
    assert tuple(status) == ("deleted", 0)


@pytest.mark.parametrize("damage", [
    ("391,C-1,x,N-0099,", '391,"C-1,x,N-0099,'),  # an opening quote with no closing one
    ("N-0099,02/01/2026,01/03/2026,199,No,,Paper,,", 'N-0099,02/01/2026,01/03/2026,199,No,,Paper,,"0'),  # last column
])
@pytest.mark.parametrize("synced_before", [True, False])
def test_an_unclosed_quote_stops_the_sync_before_it_writes_or_deletes(tmp_path, warehouse, damage, synced_before):
    source = write_export(tmp_path, export=many_invoices(300))
    if synced_before:
        sync_all(source, warehouse)
    write_export(tmp_path, export=many_invoices(300).replace(*damage))
    with pytest.raises(MappingError) as err:
        sync_all(source, warehouse, "run-2")
    assert str(err.value) == (
        f"{tmp_path / 'invoices.csv'}: a quoted field opened on line 101 runs on to line 301 over lines that look like "
        "rows: is a closing quote missing? Fix the export; nothing was loaded from it.")
    assert set(invoice_statuses(warehouse).values()) == ({"open"} if synced_before else set())
    assert len(invoice_statuses(warehouse)) == (300 if synced_before else 0)


def test_a_quoted_field_longer_than_the_csv_limit_names_file_and_line(tmp_path, warehouse):
    damaged = many_invoices(3000).replace("391,C-1,x,N-0099,", '391,"C-1,x,N-0099,')  # 160 kB left to swallow
    with pytest.raises(MappingError) as err:
        sync_all(write_export(tmp_path, export=damaged), warehouse)
    assert str(err.value).startswith(f"{tmp_path / 'invoices.csv'}: the row starting at line 101 cannot be read "
                                     "(field larger than field limit (131072)): a quoted field runs on past its line")


def test_a_cut_off_last_row_is_quarantined_and_its_invoice_still_counts_as_present(tmp_path, warehouse):
    source = write_export(tmp_path, export=many_invoices(300))
    sync_all(source, warehouse)
    cut = many_invoices(300).rstrip("\n")
    write_export(tmp_path, export=cut[: cut.rindex("01/03/2026")])  # ends "...,N-0299,02/01/2026,"
    result = sync_all(source, warehouse, "run-2")["invoices"]
    assert (result.read, result.unchanged, result.quarantined, result.deleted) == (300, 299, 1, 0)
    assert result.quarantine_sample[0]["reason"] == ("row has 6 fields, the header has 12; the file ends inside this "
                                                     "row: was it cut off?")
    assert set(invoice_statuses(warehouse).values()) == {"open"}


def test_a_row_cut_off_inside_its_key_stops_the_sync_before_it_deletes(tmp_path, warehouse):
    source = write_export(tmp_path, export=many_invoices(300))
    sync_all(source, warehouse)
    write_export(tmp_path, export=many_invoices(300).rstrip("\n")[:-42])  # ends "...,N-02"
    with pytest.raises(InvoiceDeletionRefused) as err:
        sync_all(source, warehouse, "run-2")
    assert ("would mark 1 invoice(s) deleted (N-0299), and 1 of its rows could not be split into fields (first: "
            "invoices.csv line 301: row has 4 fields, the header has 12; the file ends inside this row: was it cut "
            "off?); an export with damaged rows never deletes invoices.") in str(err.value)
    assert set(invoice_statuses(warehouse).values()) == {"open"}
    with warehouse.connect() as conn:
        assert conn.execute(sa.text("SELECT COUNT(*) FROM quarantine WHERE run_id = 'run-2'")).scalar() == 0


MALFORMED = EXPORT + (
    "391,C-1,x,BAD-DATE,31/02/2026,01/03/2026,10,No,,Paper,,\n"  # impossible date
    "391,C-1,x,BAD-AMT,01/02/2026,01/03/2026,ten euros,No,,Paper,,\n"  # not an amount
    "391,C-1,x,NEG,01/02/2026,01/03/2026,-3,No,,Paper,,\n"  # negative
    "391,C-1,x,EARLY,01/02/2026,01/01/2026,3,No,,Paper,,\n"  # due before issue
    "391,C-1,x,DUP,01/02/2026,01/03/2026,3,No,,Paper,,\n"
    "391,C-2,x,DUP,01/02/2026,01/03/2026,4,No,,Paper,,\n"  # duplicate invoice number
    "391,C-1,x,SHORT,01/02/2026\n"  # missing fields
    "391,C-1,x,LONG,01/02/2026,01/03/2026,3,No,,Paper,,,surprise\n"  # extra field
    "391,C-1,x,BLANK-DUE,01/02/2026,,3,No,,Paper,,\n"  # missing due date
    "391,C-1,x,MAYBE,01/02/2026,01/03/2026,3,Perhaps,,Paper,,\n"  # not yes/no
    "391,C-1,x,SEP,01/02/2026,01/03/2026,50.39,No,,Paper,,\n"  # '.' is the thousands separator here
    "391,C-1,x,SETTLED-EARLY,01/02/2026,01/03/2026,3,No,31/01/2026,Paper,,\n"  # settled before issued
)


def test_malformed_rows_are_quarantined_with_reasons_and_the_rest_loads(tmp_path, warehouse):
    result = sync_all(write_export(tmp_path, export=MALFORMED), warehouse)["invoices"]
    assert result.read == 15
    assert result.inserted == 3
    assert result.quarantined == 12
    assert result.reconciles
    with warehouse.connect() as conn:
        stored = dict(conn.execute(sa.text("SELECT row_ref, reason FROM quarantine WHERE entity = 'invoices'")).all())
    by_line = {int(ref.rsplit(" ", 1)[1]): reason for ref, reason in stored.items()}
    assert "issue_date '31/02/2026' is not a date in the format dd/mm/yyyy" in by_line[5]
    assert "amount 'ten euros' is not an amount" in by_line[6]
    assert "amount '-3' is negative" in by_line[7]
    assert "due_date 2026-01-01 is before issue_date 2026-02-01" in by_line[8]
    assert "duplicate invoice_number 'DUP' appears 2 times" in by_line[9] and by_line[9] == by_line[10]
    assert by_line[11] == "row has 5 fields, the header has 12"
    assert by_line[12] == "row has 13 fields, the header has 12"
    assert "due_date is missing" in by_line[13]
    assert "disputed 'Perhaps' is not a yes/no value" in by_line[14]
    assert by_line[15] == ("amount '50.39' has a thousands separator that is not between groups of three digits "
                           "(the export writes thousands '.', decimals ',')")
    assert by_line[16] == "settled_date 2026-01-31 is before issue_date 2026-02-01"


def test_bytes_not_valid_in_the_declared_encoding_quarantine_the_row(tmp_path, warehouse):
    bad = EXPORT.encode() + "391,M\xfcller,x,ENC,01/02/2026,01/03/2026,3,No,,Paper,,\n".encode("latin-1")
    result = sync_all(write_export(tmp_path, export=bad), warehouse)["invoices"]
    assert (result.inserted, result.quarantined) == (3, 1)
    assert result.quarantine_sample[0]["reason"] == "customer_id has bytes that are not valid in the file's encoding"

    # Declaring the export's real encoding loads it.
    latin = MAPPING.replace("source: acme-export", "source: acme-export\nencoding: latin-1")
    result = sync_all(write_export(tmp_path, export=bad, mapping=latin), warehouse, "run-2")["invoices"]
    assert result.inserted == 1 and result.quarantined == 0


@pytest.mark.parametrize("encoding", ["utf-8", "UTF8", "utf-8-sig", None])
def test_a_utf8_byte_order_mark_is_not_part_of_the_first_column(tmp_path, warehouse, encoding):
    export = "\ufeffinvoiceNumber,customerID,InvoiceDate,DueDate,InvoiceAmount\nB-1,C-1,02/01/2026,01/02/2026,10\n"
    columns = MAPPING[MAPPING.index("  columns:"):].split("    disputed")[0]
    mapping = (f"encoding: {encoding}\n" if encoding else "") + MAPPING[:MAPPING.index("invoices:")] + \
        "invoices:\n  file: invoices.csv\n" + columns
    result = sync_all(write_export(tmp_path, export=export, mapping=mapping), warehouse)["invoices"]
    assert (result.inserted, result.note) == (1, "")


def test_an_unknown_encoding_is_named(tmp_path, warehouse):
    source = write_export(tmp_path, mapping="encoding: utf-9\n" + MAPPING)
    with pytest.raises(MappingError) as err:
        sync_entity(source, warehouse, INVOICES, "run-1")
    assert "encoding 'utf-9' is not a known text encoding" in str(err.value)


def test_a_missing_required_column_fails_fast_naming_column_and_file(tmp_path, warehouse):
    export = EXPORT.replace("DueDate", "Due")
    source = write_export(tmp_path, export=export)
    with pytest.raises(MappingError) as err:
        sync_entity(source, warehouse, INVOICES, "run-1")
    message = str(err.value)
    assert "invoices.csv" in message and "missing column 'DueDate' (mapped to due_date)" in message


@pytest.mark.parametrize(
    "mapping, message",
    [
        (MAPPING.replace("    due_date: DueDate\n", ""), "must map the required field(s) ['due_date']"),
        (MAPPING.replace("    disputed: Disputed", "    disputd: Disputed"), "unknown field(s) ['disputd']"),
        (MAPPING.replace("invoices:", "invoicez:"), "invoices: Field required"),
        ("invoices: [", "is not valid YAML"),
        (MAPPING.replace('thousands: "."', 'thousands: ","'), "invoices: decimal and thousands are both ','"),
        (MAPPING.replace('decimal: ","', 'decimal: ", "'), "decimal: String should have at most 1 character"),
    ],
)
def test_mapping_mistakes_are_reported_with_where(tmp_path, mapping, message):
    path = tmp_path / "mapping.yaml"
    path.write_text(mapping)
    with pytest.raises(MappingError) as err:
        load_mapping(path)
    assert message in str(err.value) and str(path) in str(err.value)


def test_excel_and_parquet_exports_use_the_same_mapping(tmp_path, warehouse):
    frame = pd.DataFrame({
        "Cust": ["K1", "K2"], "Doc": ["E-1", "E-2"],
        "Issued": [pd.Timestamp("2026-03-01"), pd.Timestamp("2026-03-05")],
        "Due": [pd.Timestamp("2026-03-31"), pd.Timestamp("2026-04-04")],
        "Total": [1200.5, 99.99], "Cur": ["GBP", "JPY"],
    })
    frame.to_excel(tmp_path / "ar.xlsx", index=False)
    frame.to_parquet(tmp_path / "ar.parquet")
    columns = textwrap.indent("customer_id: Cust\ninvoice_number: Doc\nissue_date: Issued\ndue_date: Due\n"
                              "amount: Total\ncurrency: Cur\n", "    ")
    for name in ("ar.xlsx", "ar.parquet"):
        (tmp_path / "m.yaml").write_text(f"invoices:\n  file: {name}\n  columns:\n{columns}")
        source = FileLedgerSource(mapping_path=str(tmp_path / "m.yaml"), source_name=name)
        result = sync_all(source, warehouse, name)["invoices"]
        assert (result.read, result.quarantined) == (2, 0), result.quarantine_sample
    with warehouse.connect() as conn:
        rows = conn.execute(sa.text("SELECT invoice_number, due_date, amount_cents, currency FROM invoices ORDER BY 1")).all()
    assert [(r[0], str(r[1]), r[2], r[3]) for r in rows] == [("E-1", "2026-03-31", 120050, "GBP"),
                                                               ("E-2", "2026-04-04", 9999, "JPY")]


def test_an_unchanged_export_still_rechecks_rows_waiting_for_a_reference(tmp_path, warehouse):
    """Payments file names an invoice the invoice export does not have yet; it loads once the invoice appears."""
    (tmp_path / "payments.csv").write_text("payment,customer,date,amount\nP1,8976-AMJEO,20/02/2026,\"61,74\"\n")
    (tmp_path / "allocations.csv").write_text("id,kind,doc,invoice,amount\nA1,payment,P1,LATE-1,\"61,74\"\n")
    mapping = MAPPING + textwrap.dedent("""\
        payments:
          file: payments.csv
          columns: {payment_id: payment, customer_id: customer, received_on: date, amount: amount}
        allocations:
          file: allocations.csv
          columns: {allocation_id: id, document_kind: kind, document_id: doc, invoice_number: invoice, amount: amount}
        """)
    source = write_export(tmp_path, mapping=mapping)
    first = {e.name: sync_entity(source, warehouse, e, "run-1") for e in ENTITIES}
    assert first["allocations"].quarantine_sample[0]["reason"] == "invoice_number 'LATE-1' names no known invoice"

    write_export(tmp_path, export=EXPORT + "406,8976-AMJEO,x,LATE-1,26/01/2026,25/02/2026,\"61,74\",No,,Paper,,\n",
                 mapping=mapping)
    second = {e.name: sync_entity(source, warehouse, e, "run-2") for e in ENTITIES}
    assert second["invoices"].inserted == 1
    assert (second["allocations"].read, second["allocations"].inserted) == (1, 1)
    assert "re-checked 1 row(s) waiting for a reference" in second["allocations"].note
