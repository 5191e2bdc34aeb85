"""Disputes: recorded when the ledger (or a person) raises one, announced as Prefect events, escalated to the AR
manager and the sales rep at once and up the escalation levels as days pass, and resolved with an outcome.
Dunning holds a disputed invoice until then; the reports read age and reason from the records."""
