"""The AR desk on the phone: the Twilio account customers call and text, the collectors' hours, and what callers
are told. `arpilot serve --phone-desk <name>` answers Twilio's webhooks (IVR menu, two-way SMS, collectors' calls,
delivery status) with it.

Collectors' direct lines, the AR desk's number, the contacts' quiet hours and the pay portal are the dunning
policy's (nested here), so a number is configured once for reminders and calls alike.
"""

from __future__ import annotations

import re
from datetime import time

from prefect.blocks.core import Block
from pydantic import Field, field_validator, model_validator

from blocks.dunning_policy import DunningPolicy
from blocks.email_channel import EmailChannel
from blocks.twilio_channel import TwilioChannel


class PhoneDesk(Block):
    _block_type_name = "arpilot phone desk"
    _block_type_slug = "arpilot-phone-desk"
    _description = "Twilio number customers call and text, collectors' hours, and the IVR's settings."

    twilio: TwilioChannel = Field(..., description="The account whose auth token signs the webhooks and whose "
                                                   "number places collectors' calls and sends pay links.")
    dunning_policy: DunningPolicy = Field(..., description="Collectors' direct lines, the AR desk's number, the "
                                                           "contacts' quiet hours and the pay portal.")
    email: EmailChannel | None = Field(None, description="Sends a statement a caller asks for; empty: the IVR "
                                                         "offers the pay link by SMS only.")
    desk_contact: str = Field(..., description="How a customer reaches the AR desk, as told by HELP and to callers "
                                               "arpilot cannot identify, e.g. 'ar@northwind.example or +1 312 555 "
                                               "0100'.")
    collector_hours_start: time = Field(time(9, 0), description="Collectors take calls from this time (company "
                                                                "time zone, business days).")
    collector_hours_end: time = Field(time(17, 0), description="... until this time; outside it a caller leaves "
                                                              "a voicemail for the collector.")
    twilio_answers_keywords: bool = Field(True, description="Twilio answers STOP, START and HELP itself on long "
                                                            "codes and toll-free numbers (put the desk contact in "
                                                            "its HELP reply with Advanced Opt-Out); turn off for a "
                                                            "short code outside a messaging service, and arpilot "
                                                            "answers them.")
    voicemail_seconds: int = Field(120, ge=10, le=600, description="Longest voicemail recorded.")
    record_collector_calls: bool = Field(True, description="Record collectors' calls after a consent "
                                                           "announcement (and transcribe them).")
    transcriber: str = Field("twilio", description="Who transcribes recorded collectors' calls: 'twilio' (Twilio's "
                                                   "real-time transcription) or an importable 'module:function' "
                                                   "given the recording's URL and the account's credentials.")

    @field_validator("transcriber")
    @classmethod
    def _engine_named(cls, name: str) -> str:
        module, _, function = name.partition(":")
        if name != "twilio" and not (module and function):
            raise ValueError(f"transcriber {name!r} is neither 'twilio' nor an importable 'module:function'")
        return name

    @model_validator(mode="after")
    def _hours_sane(self) -> PhoneDesk:
        if self.collector_hours_start >= self.collector_hours_end:
            raise ValueError(f"collector_hours_start {self.collector_hours_start} must be before "
                             f"collector_hours_end {self.collector_hours_end}")
        return self

    def collector_line(self, collector: str | None) -> str | None:
        """The collector's direct line, else the AR desk's, else None (nobody to dial); as Twilio dials it (the
        dunning policy writes numbers as people read them: "+1 312 555 0100")."""
        line = self.dunning_policy.collector_phones.get(collector or "") or self.dunning_policy.ar_phone
        return re.sub(r"[^\d+]", "", line) or None
