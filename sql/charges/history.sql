-- Every charge that covered an invoice a charge on the charge day may take.
SELECT ci.invoice_number, c.charge_day, c.attempt, c.status, c.failure_kind, c.failure_code, c.failure_reason,
       c.retry_on, c.updated_at
FROM charge_invoices ci
JOIN charges c ON c.charge_key = ci.charge_key
JOIN invoices i ON i.invoice_number = ci.invoice_number
WHERE i.status = 'open' AND i.open_cents > 0 AND i.due_date <= :day
