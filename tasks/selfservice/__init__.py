"""The customer's phone: Twilio's webhooks in the `arpilot serve` app, believed only when signed and never twice
(two-way SMS commands, delivery status callbacks, later the IVR menu). Hands on SMS opt-outs, promises, collector
worklist items, every inbound text (sms_inbound) and the outbox's delivery statuses."""
