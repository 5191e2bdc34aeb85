"""arpilot's Prefect blocks: register them all with `prefect block register -m blocks`."""

from prefect.blocks.core import Block

from blocks.company import CompanyProfile
from blocks.contact_policy import ContactPolicy
from blocks.dunning_policy import DunningPolicy
from blocks.email_channel import EmailChannel
from blocks.ledger import FileLedgerSource, SqlLedgerSource
from blocks.report_recipients import ReportRecipients
from blocks.twilio_channel import TwilioChannel
from blocks.warehouse import ArWarehouse


class BlockNotFound(ValueError):
    """A flow parameter names a block document that does not exist."""


def load_block(name: str) -> Block:
    """A block document by "type-slug/name", or an error that says how to create it."""
    try:
        return Block.load(name)
    except ValueError as error:
        raise BlockNotFound(
            f"block {name} does not exist ({error}); create it in the Prefect UI (Blocks) or with the arpilot "
            "blocks module (see README, Configuration reference), or pass the name of one that does") from None


__all__ = ["ArWarehouse", "BlockNotFound", "CompanyProfile", "ContactPolicy", "DunningPolicy", "EmailChannel",
           "FileLedgerSource",
           "ReportRecipients", "SqlLedgerSource", "TwilioChannel", "load_block"]
