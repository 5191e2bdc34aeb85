-- Reminders the disputed invoice was named in before, as the customer received them (sent, or of unknown outcome).
SELECT oi.invoice_number, o.planned_on, o.channel, o.step
FROM dunning_outbox_invoices oi
JOIN dunning_outbox o ON o.outbox_key = oi.outbox_key
WHERE oi.invoice_number = :invoice AND o.status IN ('sent', 'unknown')
ORDER BY o.planned_on
