"""The dunning policy: which reminder goes out when, on which channels, in which tone, and when never to send.

Finance ops edits it in the Prefect UI; every rule the planner applies reads from here, so a controller can
point at one document to explain what a customer received.
"""

from __future__ import annotations

from datetime import date, time
from decimal import Decimal
from typing import Literal

from prefect.blocks.core import Block
from pydantic import BaseModel, Field, field_validator, model_validator

from blocks.pay_portal import PayPortal

Channel = Literal["email", "sms", "voice", "call", "escalation"]
Tone = Literal["friendly", "firm", "final"]
TONES: tuple[str, ...] = ("friendly", "firm", "final")
CONTACT_CHANNELS = ("email", "sms", "voice")  # channels that write to a customer's contact


class DunningStep(BaseModel):
    """A reminder at ``offset`` days from the due date (negative: before it)."""

    offset: int = Field(..., description="Days from the due date: -7 is a week before, 30 is 30 days past due.")
    channels: list[Channel] = Field(..., min_length=1, description="email, sms, voice, call (collector's call "
                                                                    "list), escalation (internal email).")
    tone: Tone = Field(..., description="friendly, firm or final: picks the message templates.")


class CustomerOverride(BaseModel):
    """Per-customer exceptions a collector or manager agreed with the customer."""

    stop: bool = Field(False, description="Never send automated reminders to this customer.")
    pause_until: date | None = Field(None, description="No reminders up to and including this date.")
    tone: Tone | None = Field(None, description="The firmest tone this customer gets (e.g. friendly for "
                                                "strategic accounts).")


DEFAULT_STEPS = [
    DunningStep(offset=-7, channels=["email"], tone="friendly"),
    DunningStep(offset=-1, channels=["email"], tone="friendly"),
    DunningStep(offset=1, channels=["email"], tone="friendly"),
    DunningStep(offset=15, channels=["email", "sms"], tone="firm"),
    DunningStep(offset=30, channels=["email", "sms", "call"], tone="firm"),
    DunningStep(offset=45, channels=["email", "voice"], tone="firm"),
    DunningStep(offset=60, channels=["email", "call", "escalation"], tone="final"),
    DunningStep(offset=90, channels=["email", "call", "escalation"], tone="final"),
]


class DunningPolicy(Block):
    _block_type_name = "arpilot dunning policy"
    _block_type_slug = "arpilot-dunning-policy"
    _description = "Reminder steps, channels and tones; caps, quiet hours, minimum balance and customer overrides."

    steps: list[DunningStep] = Field(default_factory=lambda: [s.model_copy() for s in DEFAULT_STEPS],
                                     description="Reminder steps by offset from the due date.")
    cap_days: int = Field(3, ge=0, description="At most one message per customer per channel within this many "
                                               "days (0: no cap).")
    window_start: time = Field(time(8, 0), description="Earliest local time at the contact to send or call.")
    window_end: time = Field(time(21, 0), description="Local time at the contact from which nothing is sent.")
    email_business_days_only: bool = Field(False, description="Send email only on the contact's local business "
                                                              "days (the company profile's weekdays).")
    sms_needs_mobile: bool = Field(True, description="Skip SMS to numbers known to be landlines or toll-free.")
    minimum_balance: Decimal = Field(Decimal("10.00"), ge=0, description="No reminder when the customer owes "
                                                                         "less than this, in the invoice currency.")
    autopay_settle_days: int = Field(5, ge=0, description="Days past due an invoice of a customer with an autopay "
                                                          "mandate in its currency waits for its first charge; "
                                                          "then dunning takes over.")
    overrides: dict[str, CustomerOverride] = Field(default_factory=dict, description="Customer id -> exception.")
    pay_portal: PayPortal | None = Field(None, description="The pay portal whose signed, expiring links every "
                                                           "message carries; empty: pay_url.")
    pay_url: str = Field("https://pay.example.com/{customer_id}?currency={currency}",
                         description="Pay link when no pay portal is set (an unsigned page of your own); "
                                     "{customer_id} and {currency} are filled in.")
    ar_phone: str = Field("", description="The AR desk's phone number, shown when a collector has none.")
    collector_phones: dict[str, str] = Field(default_factory=dict, description="Collector name -> direct phone.")
    escalation_to: list[str] = Field(default_factory=list, description="Internal addresses that receive "
                                                                       "escalations (AR manager).")
    unsubscribe_email: str | None = Field(None, description="Mailbox that receives opt-out requests "
                                                            "(List-Unsubscribe); default: the sender address.")
    attach_statement: bool = Field(False, description="Attach a CSV statement of the open invoices to emails.")
    template_dir: str | None = Field(None, description="Folder with your own message templates (same file names "
                                                       "as reports/templates/dunning).")
    output_dir: str = Field("var/output/dunning", description="Where call lists and the message log are written.")
    batch_size: int = Field(200, ge=1, description="Messages per send task; more messages make bigger batches so "
                                                   "a night stays at a few hundred task runs.")
    max_batches: int = Field(200, ge=1, description="Upper bound on send tasks per run.")
    max_attempts: int = Field(3, ge=1, description="Tries per message on transient provider errors.")
    retry_backoff_seconds: list[float] = Field([2.0, 10.0], description="Waits between tries (the last repeats).")
    reservation_lease_seconds: int = Field(900, ge=1, description="A reserved message whose owner stops "
                                                                  "renewing is reconciled after this long.")
    deliver_invoices_from: date | None = Field(
        None, description="Email each open invoice issued on or after this date, and not in the future, to the "
                          "customer's AP contacts once, with its PDF. Set it to the day you switch delivery on so "
                          "the back catalogue is not mailed; empty: arpilot does not deliver invoices (your ERP "
                          "does).")
    invoice_pdf_dir: str | None = Field(None, description="Folder the ledger's invoice pdf_path is relative to "
                                                          "(where the ERP puts its invoice PDFs).")

    @field_validator("steps")
    @classmethod
    def _distinct_offsets(cls, steps: list[DunningStep]) -> list[DunningStep]:
        offsets = [s.offset for s in steps]
        if len(set(offsets)) != len(offsets):
            raise ValueError(f"steps repeat an offset: {sorted(offsets)}; each offset may appear once")
        return sorted(steps, key=lambda s: s.offset)

    @model_validator(mode="after")
    def _window_sane(self) -> DunningPolicy:
        if self.window_start >= self.window_end:
            raise ValueError(f"window_start {self.window_start} must be before window_end {self.window_end}")
        return self

    @property
    def contact_channels(self) -> tuple[str, ...]:
        """The channels the steps use that write to a customer's contact, in CONTACT_CHANNELS order."""
        used = {c for s in self.steps for c in s.channels}
        return tuple(c for c in CONTACT_CHANNELS if c in used)

    def step_at(self, offset: int) -> DunningStep:
        return next(s for s in self.steps if s.offset == offset)
