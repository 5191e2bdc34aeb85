"""arpilot's Prefect blocks: register them all with `prefect block register -m blocks`."""

from blocks.company import CompanyProfile
from blocks.contact_policy import ContactPolicy
from blocks.ledger import FileLedgerSource, SqlLedgerSource
from blocks.warehouse import ArWarehouse

__all__ = ["ArWarehouse", "CompanyProfile", "ContactPolicy", "FileLedgerSource", "SqlLedgerSource"]
