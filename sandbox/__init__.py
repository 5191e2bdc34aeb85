"""The outside world in a box, for the demo, the tests and the benchmarks (never production code paths).

smtp_relay: an SMTP relay that keeps what it accepts; twilio_api: a Twilio-compatible API for SMS and calls;
stripe_api: localstripe in-process, with the Stripe behaviour the charge flow relies on (localstripe_patches);
store: how the relay and Twilio keep what they receive; sample_erp: a generated ERP to sync from.
`python -m sandbox --folder DIR` runs the three servers in a process of their own.
"""
