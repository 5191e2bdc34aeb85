"""The dunning stage: age the open invoices, plan today's reminders (and why not), reserve each in the outbox,
send it exactly once by email, SMS, voice or call list, and publish what happened. It hands the reports the
outbox and the held-back messages."""
