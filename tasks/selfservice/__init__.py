"""The customer's phone: Twilio's webhooks in the `arpilot serve` app, believed only when signed and never twice
(two-way SMS commands, delivery status callbacks, collectors' calls, later the IVR menu). Hands on SMS opt-outs,
promises, collector worklist items, every inbound text (sms_inbound), the outbox's delivery statuses, and each
collector's call with its recording, transcript and outcome (collector_calls)."""
