"""`arpilot`: the command line a finance-ops engineer uses before and beside the Prefect deployments.

  arpilot demo         generate a sample ERP, sync it twice (full, then a day of changes), print what happened
  arpilot sample-erp   write a sample ERP database (see tasks/sample_erp.py)
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from blocks.ledger import PROJECT_ROOT

DEMO_DIR = PROJECT_ROOT / "var" / "demo"
BLOCK_NAME = "arpilot"


def save_demo_blocks(erp: Path, warehouse: Path) -> None:
    """The blocks the nightly deployment reads, pointing at the demo's sample ERP and warehouse."""
    from blocks.company import CompanyProfile
    from blocks.ledger import SqlLedgerSource
    from blocks.warehouse import ArWarehouse

    CompanyProfile(
        legal_name="Northwind Components Ltd", time_zone="America/Chicago", default_currency="USD",
        locale="en_US", sender_name="Northwind Accounts Receivable",
    ).save(BLOCK_NAME, overwrite=True)
    SqlLedgerSource(source_name="sample-erp", url=f"sqlite:///{erp}").save(BLOCK_NAME, overwrite=True)
    ArWarehouse(url=f"sqlite:///{warehouse}").save(BLOCK_NAME, overwrite=True)


def _sync_table(title: str, results) -> Table:
    table = Table(title=title, title_justify="left")
    for column in ("entity", "read", "inserted", "updated", "unchanged", "quarantined", "deleted"):
        table.add_column(column, justify="left" if column == "entity" else "right")
    for r in results:
        table.add_row(r.entity, *(f"{getattr(r, c):,}" for c in ("read", "inserted", "updated", "unchanged",
                                                                   "quarantined", "deleted")))
    return table


def _reasons_table(results) -> Table:
    table = Table(title="Quarantined ledger rows by reason", title_justify="left")
    table.add_column("entity")
    table.add_column("reason")
    table.add_column("rows", justify="right")
    for r in results:
        for reason, rows in r.quarantine_reasons.items():
            table.add_row(r.entity, reason, f"{rows:,}")
    return table


def demo(invoices: int, seed: int) -> int:
    from flows.nightly import nightly
    from tasks.sample_erp import generate, touch_invoices

    console = Console() if sys.stdout.isatty() else Console(width=100)
    shutil.rmtree(DEMO_DIR, ignore_errors=True)
    DEMO_DIR.mkdir(parents=True)
    erp, warehouse = DEMO_DIR / "erp.sqlite", DEMO_DIR / "warehouse.sqlite"

    console.rule("[bold]arpilot demo")
    console.print(f"1. Generating a sample ERP with {invoices:,} invoices (seed {seed}) in {erp.relative_to(PROJECT_ROOT)}")
    summary = generate(erp, invoices=invoices, seed=seed, progress=True)
    console.print(summary.report(), highlight=False)
    save_demo_blocks(erp, warehouse)
    console.print(f"2. Saved blocks '{BLOCK_NAME}' (company profile, SQL ledger, AR warehouse) in the Prefect API")

    console.print("3. Nightly run: full sync of the ledger into an empty warehouse")
    started = time.perf_counter()
    first = nightly()
    console.print(_sync_table(f"First sync ({time.perf_counter() - started:.1f} s)", first))
    console.print(_reasons_table(first))

    changed = touch_invoices(erp, fraction=0.01, seed=seed + 1)
    console.print(f"4. A day of ledger activity: {changed:,} invoices changed (payments, disputes, promises)")
    started = time.perf_counter()
    second = nightly()
    console.print(_sync_table(f"Second sync: only what changed ({time.perf_counter() - started:.1f} s)", second))

    reconciled = all(r.reconciles for r in first + second)
    console.print(
        f"\nEvery entity reconciles (read = inserted + updated + unchanged + quarantined): "
        f"{'[green]yes' if reconciled else '[red]NO'}[/]"
    )
    console.print(f"Warehouse: {warehouse.relative_to(PROJECT_ROOT)} (SQLite; table `quarantine` holds refused rows)")
    console.print("Browse both runs, their task runs and artifacts (ledger-sync, ledger-quarantine):")
    console.print("  [bold]make ui[/]  then open http://127.0.0.1:4200/runs")
    return 0 if reconciled else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="arpilot", description="Accounts-receivable autopilot on Prefect.")
    commands = parser.add_subparsers(dest="command", required=True)
    demo_cmd = commands.add_parser("demo", help="run the nightly job end to end on a generated sample ERP")
    demo_cmd.add_argument("--invoices", type=int, default=20_000, help="size of the sample ERP (default 20,000)")
    demo_cmd.add_argument("--seed", type=int, default=7)
    commands.add_parser("sample-erp", help="write a sample ERP database", add_help=False)
    args, rest = parser.parse_known_args(argv)
    if args.command == "sample-erp":
        from tasks.sample_erp import main as sample_erp_main

        return sample_erp_main(rest)
    if rest:
        parser.error(f"unrecognised arguments: {' '.join(rest)}")
    return demo(args.invoices, args.seed)


if __name__ == "__main__":
    sys.exit(main())
