"""KPIs from a warehouse the real sync filled from a file export, as the reports read it: a settled date is a
settlement on that day; a paid invoice without one leaves past balances unknown, and the report says so."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
import sqlalchemy as sa

from blocks.ledger import FileLedgerSource
from reports.builder import environment
from tasks import warehouse as wh
from tasks.disputes.records import record_disputes
from tasks.kpi.maths import Period, compute_kpis
from tasks.kpi.reports import kpi_rows, read_ledger
from tasks.ledger.entities import CUSTOMERS, INVOICES
from tasks.ledger.sync import sync_entity

BUCKETS = [30, 60, 90]
JUNE = Period(date(2026, 6, 1), date(2026, 6, 30))

# The README's example mapping: the export says when an invoice was settled, and nothing else about payments.
SETTLED = """\
customerID,invoiceNumber,InvoiceDate,DueDate,InvoiceAmount,SettledDate
A,A1,2026-05-04,2026-06-03,1000.00,2026-06-10
A,A2,2026-05-31,2026-06-15,500.00,2026-07-02
B,B1,2026-06-05,2026-07-05,800.00,
B,B2,2026-06-25,2026-07-25,300.00,2026-06-30
C,C1,2026-04-10,2026-05-10,200.00,
"""

MAPPING = """\
source: settled-export
date_format: yyyy-mm-dd
currency: EUR
invoices:
  file: invoices.csv
  columns:
    customer_id: customerID
    invoice_number: invoiceNumber
    issue_date: InvoiceDate
    due_date: DueDate
    amount: InvoiceAmount
{extra}
"""


def synced(folder, engine, export: str, extra: str = "    settled_date: SettledDate"):
    (folder / "invoices.csv").write_text(export)
    (folder / "mapping.yaml").write_text(MAPPING.format(extra=extra))
    source = FileLedgerSource(mapping_path=str(folder / "mapping.yaml"))
    for entity in (CUSTOMERS, INVOICES):
        assert sync_entity(source, engine, entity, "run-1").quarantined == 0
    with engine.begin() as conn:
        record_disputes(conn, wh.utcnow())
    return read_ledger(engine, "Europe/Berlin")


def test_a_settled_date_is_a_settlement_on_that_day_for_every_kpi(tmp_path, warehouse):
    kpis = compute_kpis(synced(tmp_path, warehouse, SETTLED), JUNE, BUCKETS)
    (eur,) = kpis.currencies
    # Owed at the end of 31 May: A1 1,000 + A2 500 + C1 200 = 1,700 (A1 and A2 settle later).
    # Owed at the end of 30 June: A2 500 (settled 07-02) + B1 800 + C1 200 = 1,500 (A1 settled 06-10, B2 on 06-30);
    # current (not yet due): B1 800. June's net credit sales: B1 800 + B2 300 = 1,100.
    assert (eur.open_cents, eur.current_cents, eur.sales_cents) == (1500_00, 800_00, 1100_00)
    assert eur.percent_current == Decimal("53.3")  # 800 / 1,500
    # CEI = (1,700 + 1,100 - 1,500) / (1,700 + 1,100 - 800) = 1,300 / 2,000
    assert eur.cei == Decimal("65.0")
    # Countback: June's 1,100 is covered (30 days), 400 left of May's 1,500 (A1 + A2): 400 / 1,500 * 31 = 8.27
    assert eur.dso_countback == Decimal("38.3")
    # 90 days from 04-02: sales 200 + 1,000 + 500 + 800 + 300 = 2,800; 1,500 / 2,800 * 90 and 800 / 2,800 * 90
    assert (eur.dso_period_end, eur.best_possible_dso, eur.average_days_delinquent) == (
        Decimal("48.2"), Decimal("25.7"), Decimal("22.5"))
    # Collected in June: A1 1,000 (37 days after issue, 7 after due) and B2 300 (5 days, 25 before due):
    # (37 * 1,000 + 5 * 300) / 1,300 = 29.6 days to pay; (7 * 1,000 - 25 * 300) / 1,300 = -0.4 beyond terms
    assert (eur.collected_cents, eur.average_days_to_pay, eur.average_days_beyond_terms) == (
        1300_00, Decimal("29.6"), Decimal("-0.4"))
    assert eur.unknown == frozenset() and kpis.aging_reconciles
    trend = kpis.trend.set_index("month_end")
    assert trend.loc[date(2026, 6, 30), "cei"] == Decimal("65.0")
    # 31 May: 1,700 owed against May's 1,500 (31 days) and April's 200 (30 days): 61.0; CEI (200 + 1,500 - 1,700)
    # / (200 + 1,500 - 1,500) = 0.0: nothing collected in May
    assert (trend.loc[date(2026, 5, 31), "dso_countback"], trend.loc[date(2026, 5, 31), "cei"]) == (
        Decimal("61.0"), Decimal("0.0"))


def test_a_paid_invoice_without_any_date_makes_the_report_say_unknown_not_zero(tmp_path, warehouse):
    # the same ledger exported with open amounts, but no settled date: A1, A2 and B2 are just paid, not when
    export = """\
customerID,invoiceNumber,InvoiceDate,DueDate,InvoiceAmount,Open
A,A1,2026-05-04,2026-06-03,1000.00,0
A,A2,2026-05-31,2026-06-15,500.00,0
B,B1,2026-06-05,2026-07-05,800.00,800.00
B,B2,2026-06-25,2026-07-25,300.00,0
C,C1,2026-04-10,2026-05-10,200.00,200.00
"""
    ledger = synced(tmp_path, warehouse, export, "    open: Open")
    kpis = compute_kpis(ledger, JUNE, BUCKETS)
    (eur,) = kpis.currencies
    assert eur.open_cents is None and eur.cei is None and eur.dso_countback is None and eur.collected_cents is None
    assert eur.sales_cents == 1100_00
    assert "3 invoice(s) issued from 2026-05-04 to 2026-06-25 are paid" in eur.unknown_reason
    text = {label: fmt(eur) for label, fmt in kpi_rows("en_US")}
    assert (text["Open AR"], text["DSO (countback)"], text["CEI"], text["Collected"]) == ("unknown",) * 4
    table = str(environment("en_US").get_template("_sections.html.j2").module.kpi_table(kpis))
    assert ">unknown<" in table and "0.0 days" not in table and "100.0 %" not in table
    assert "the ledger gives no payment, credit note or settled date for 1,800.00 EUR" in table


def test_a_dispute_is_dated_when_a_sync_first_sees_it_and_closed_when_it_ends(tmp_path, warehouse):
    export = """\
customerID,invoiceNumber,InvoiceDate,DueDate,InvoiceAmount,Disputed
B,B1,2026-06-05,2026-07-05,800.00,{b1}
C,C1,2026-04-10,2026-05-10,{c1},no
"""
    disputed = export.format(b1="yes", c1="200.00")
    extra = "    disputed: Disputed"
    ledger = synced(tmp_path, warehouse, disputed, extra)
    with warehouse.connect() as conn:
        first = conn.execute(sa.text("SELECT invoice_number, opened_at, closed_at FROM invoice_disputes")).all()
    assert [(r[0], r[2]) for r in first] == [("B1", None)]
    (seen,) = ledger.disputes["opened_on"]  # the company's day of the sync
    kpis = compute_kpis(ledger, Period(seen.date(), seen.date()), BUCKETS)
    assert kpis.currencies[0].disputed_average_days_open == Decimal("0.0")  # B1 is past due, but disputed today
    before = compute_kpis(ledger, JUNE, BUCKETS)  # no sync saw any dispute by 30 June: unknown, not "none"
    assert before.currencies[0].disputed_invoices is None and before.disputes_unknown

    synced(tmp_path, warehouse, export.format(b1="yes", c1="210.00"), extra)  # another change, B1 still disputed
    with warehouse.connect() as conn:
        again = conn.execute(sa.text("SELECT invoice_number, opened_at, closed_at FROM invoice_disputes")).all()
    assert again == first  # still the day it was first seen

    synced(tmp_path, warehouse, export.format(b1="no", c1="210.00"), extra)  # the dispute is resolved in the ledger
    with warehouse.connect() as conn:
        ended = conn.execute(sa.text("SELECT invoice_number, closed_at FROM invoice_disputes")).all()
    assert len(ended) == 1 and ended[0][1] is not None
    closed = read_ledger(warehouse, "Europe/Berlin")
    assert compute_kpis(closed, Period(seen.date(), seen.date()), BUCKETS).currencies[0].disputed_invoices == 0


@pytest.mark.parametrize("warehouse_url", ["sqlite", "postgresql"], indirect=True)
def test_a_snapshot_whose_disputes_cannot_be_known_stores_unknown_with_the_reason_not_a_failure(warehouse,
                                                                                                  warehouse_url):
    from dunning_cases import COMPANY, TODAY, Ledger, seed

    from blocks.warehouse import ArWarehouse
    from tasks.kpi.reports import snapshot_kpis

    seed(warehouse, Ledger().customer("C1").invoice("I1", "C1", 20, 50_000, disputed=True).invoice("I2", "C1", 5))
    assert snapshot_kpis.fn(ArWarehouse(url=warehouse_url), COMPANY, TODAY, "run-1") == 1
    with warehouse.connect() as conn:
        row = conn.execute(sa.text("SELECT open_cents, disputed_cents, disputed_invoices, unknown_reason "
                                   "FROM kpi_snapshots")).one()
    assert row[:3] == (150_000, None, None)
    assert "no sync has recorded since when yet" in row[3]
