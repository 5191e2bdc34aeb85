"""arpilot's Prefect blocks: register them all with `prefect block register -m blocks`."""

from blocks.company import CompanyProfile
from blocks.contact_policy import ContactPolicy
from blocks.dunning_policy import DunningPolicy
from blocks.email_channel import EmailChannel
from blocks.ledger import FileLedgerSource, SqlLedgerSource
from blocks.twilio_channel import TwilioChannel
from blocks.warehouse import ArWarehouse

__all__ = ["ArWarehouse", "CompanyProfile", "ContactPolicy", "DunningPolicy", "EmailChannel", "FileLedgerSource",
           "SqlLedgerSource", "TwilioChannel"]
