"""The pay portal stage: signed pay links in every reminder, the customer's page behind them (open invoices,
statement, pay now, autopay enrolment), the gateway's webhooks, and the day's portal payments for the controller.
It hands the warehouse confirmed payments (tasks/charges/payments.py) and autopay mandates."""
