"""The customer's phone: Twilio's webhooks in the `arpilot serve` app, believed only when signed and never twice
(two-way SMS commands, delivery status callbacks, the IVR menu). Hands on SMS opt-outs, promises, collector
worklist items (texts, voicemails), every inbound text (sms_inbound), every call and what was asked (ivr_calls,
ivr_call_steps), the texts and emails a call sent (ivr_sends) and the outbox's delivery statuses."""
