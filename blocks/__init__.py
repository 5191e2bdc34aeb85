"""arpilot's Prefect blocks: register them all with `prefect block register -m blocks`."""

from blocks.company import CompanyProfile
from blocks.ledger import FileLedgerSource, SqlLedgerSource
from blocks.warehouse import ArWarehouse

__all__ = ["ArWarehouse", "CompanyProfile", "FileLedgerSource", "SqlLedgerSource"]
