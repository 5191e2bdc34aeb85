"""The customer's phone: Twilio's webhooks in the `arpilot serve` app, believed only when signed and never twice
(two-way SMS commands, delivery status callbacks, the IVR menu, collectors' calls). Hands on SMS opt-outs, promises,
collector worklist items (texts, voicemails, promises and disputes taken on a call), every inbound text
(sms_inbound), every call and what was asked (ivr_calls, ivr_call_steps), the texts and emails a call sent
(ivr_sends), the outbox's delivery statuses, and each collector's call with its recording, transcript and outcome
(collector_calls)."""
