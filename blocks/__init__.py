"""arpilot's Prefect blocks: register them all with `prefect block register -m blocks`."""

from datetime import UTC, date, datetime

from prefect.blocks.core import Block
from pydantic import ValidationError

from blocks.alert_email import AlertEmail
from blocks.autopay_policy import AutopayPolicy
from blocks.company import CompanyProfile
from blocks.contact_policy import ContactPolicy
from blocks.credit_policy import CreditPolicy
from blocks.dask_cluster import DaskCluster
from blocks.dunning_policy import DunningPolicy
from blocks.email_channel import EmailChannel
from blocks.escalation_policy import EscalationPolicy
from blocks.ledger import FileLedgerSource, SqlLedgerSource
from blocks.pay_portal import PayPortal
from blocks.payment_gateway import PaymentGateway
from blocks.phone_desk import PhoneDesk
from blocks.report_recipients import ReportRecipients
from blocks.runbook import runbook
from blocks.twilio_channel import TwilioChannel
from blocks.warehouse import ArWarehouse

# The block documents every flow reads unless a parameter names another ("block-type-slug/name").
DEFAULT_LEDGER = "arpilot-sql-ledger/arpilot"
DEFAULT_WAREHOUSE = "arpilot-ar-warehouse/arpilot"
DEFAULT_COMPANY = "arpilot-company-profile/arpilot"
DEFAULT_CONTACT_POLICY = "arpilot-contact-policy/arpilot"
DEFAULT_DUNNING_POLICY = "arpilot-dunning-policy/arpilot"
DEFAULT_EMAIL = "arpilot-email-channel/arpilot"
DEFAULT_TWILIO = "arpilot-twilio-channel/arpilot"
DEFAULT_RECIPIENTS = "arpilot-report-recipients/arpilot"
DEFAULT_GATEWAY = "arpilot-payment-gateway/arpilot"
DEFAULT_AUTOPAY_POLICY = "arpilot-autopay-policy/arpilot"
DEFAULT_PORTAL = "arpilot-pay-portal/arpilot"
DEFAULT_ESCALATION_POLICY = "arpilot-escalation-policy/arpilot"
DEFAULT_PHONE_DESK = "arpilot-phone-desk/arpilot"
DEFAULT_CREDIT_POLICY = "arpilot-credit-policy/arpilot"
DEFAULT_ALERT_EMAIL = "arpilot-alert-email/arpilot"


class BlockNotFound(ValueError):
    """A flow parameter names a block document that does not exist."""


class BlockInvalid(ValueError):
    """A block document holds a value its block type refuses (saved from the UI or by an older arpilot)."""


def load_block(name: str) -> Block:
    """A block document by "type-slug/name", or an error that names the block (and the field) and says what to do."""
    try:
        return Block.load(name)
    except (RuntimeError, ValidationError) as error:  # Prefect wraps the ValidationError in a RuntimeError
        refused = error if isinstance(error, ValidationError) else error.__cause__
        if not isinstance(refused, ValidationError):
            raise
        raise BlockInvalid(f"block {name} is invalid: {invalid_fields(refused)}; correct it in the Prefect UI "
                           f"(Blocks) or save it again from Python. {runbook('block-missing-or-invalid')}") from None
    except ValueError as error:
        raise BlockNotFound(
            f"block {name} does not exist ({error}); create it in the Prefect UI (Blocks) or with the arpilot "
            f"blocks module (see README, Configuration reference), or pass the name of one that does. "
            f"{runbook('block-missing-or-invalid')}") from None


def invalid_fields(error: ValidationError) -> str:
    """Each refused field and why, never the value itself (it may be a secret)."""
    return "; ".join(f"field {'.'.join(str(part) for part in e['loc']) or '(block)'}: "
                     f"{e['msg'].removeprefix('Value error, ')}" for e in error.errors())


def company_today(name: str, now: datetime | None = None) -> date:
    """The company's calendar date for run names, which must never fail: the UTC date when the company block
    cannot be loaded (the flow then loads it itself and fails naming the block and the field)."""
    try:
        return load_block(name).today(now)
    except Exception:
        return (now or datetime.now(UTC)).astimezone(UTC).date()


__all__ = ["DEFAULT_ALERT_EMAIL", "DEFAULT_AUTOPAY_POLICY", "DEFAULT_COMPANY", "DEFAULT_CONTACT_POLICY", "DEFAULT_CREDIT_POLICY", "DEFAULT_DUNNING_POLICY",
           "DEFAULT_EMAIL", "DEFAULT_ESCALATION_POLICY", "DEFAULT_GATEWAY", "DEFAULT_LEDGER", "DEFAULT_PHONE_DESK", "DEFAULT_PORTAL", "DEFAULT_RECIPIENTS",
           "DEFAULT_TWILIO", "DEFAULT_WAREHOUSE", "AlertEmail", "ArWarehouse", "AutopayPolicy", "BlockInvalid", "BlockNotFound",
           "CompanyProfile", "ContactPolicy", "CreditPolicy", "DaskCluster", "DunningPolicy", "EmailChannel", "EscalationPolicy", "FileLedgerSource", "PayPortal",
           "PaymentGateway", "PhoneDesk", "ReportRecipients", "SqlLedgerSource", "TwilioChannel", "company_today", "load_block"]
