"""The autopay policy: when charges run, which declines are retried and when, and where payments are exported."""

from __future__ import annotations

from datetime import time

from prefect.blocks.core import Block
from pydantic import Field

# Declines a later attempt can overcome (Stripe's decline codes); any other decline is final.
SOFT_DECLINES = ["insufficient_funds", "processing_error", "try_again_later", "issuer_not_available",
                 "reenter_transaction", "approve_with_id", "generic_decline", "do_not_honor"]


class AutopayPolicy(Block):
    _block_type_name = "arpilot autopay policy"
    _block_type_slug = "arpilot-autopay-policy"
    _description = "Charge time, decline retries and the payment export for autopay customers."

    charge_time: time = Field(time(6, 0), description="Local time (company time zone) the day's charges run at.")
    retry_after_days: list[int] = Field(
        [3, 5, 7], description="After a soft decline, retry this many business days after the first attempt (one "
                               "retry per entry); after the last, ordinary dunning resumes.")
    soft_declines: list[str] = Field(SOFT_DECLINES, description="Decline codes that are retried; others are final.")
    batch_size: int = Field(200, ge=1, description="Charges per task run; batches run four at a time.")
    gateway_attempts: int = Field(3, ge=1, description="Tries per charge when the gateway cannot be reached; each "
                                                      "try first looks up whether the last one was made.")
    gateway_backoff_seconds: float = Field(2.0, ge=0, description="Wait between those tries; doubles each time.")
    lost_answer_grace_seconds: float = Field(
        600, ge=0, description="A charge request whose answer was lost (timeout, 5xx) may still be on its way to the "
                               "gateway: it is asked again, by a later run and only if the gateway has no payment "
                               "for it, once this long has passed since it was sent.")
    export_dir: str = Field("var/autopay", description="Folder (relative to the checkout) for the dated payment "
                                                       "exports the ERP imports.")
    write_back_sql: str | None = Field(
        None, description="Optional statement run on the SQL ledger's database for each payment and invoice it "
                          "pays, for an ERP that takes payments by SQL as well as the CSV export. Named parameters: "
                          "the export's columns (:payment_id, :received_on, :customer_id, :currency, "
                          ":payment_amount, :method, :gateway_reference, :invoice_number, :applied_amount). It must "
                          "do nothing when the row exists (e.g. ON CONFLICT DO NOTHING): a run stopped after the "
                          "write runs it again.")
