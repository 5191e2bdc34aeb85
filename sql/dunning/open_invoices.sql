-- Open invoices with what decides whether they may be dunned today: disputes (invoice_dispute_holds), promises,
-- autopay (the last charge that covered each invoice, whether the customer has been told about it if it failed,
-- and whether its customer has an active mandate in its currency), and the sales rep's answer about the
-- account's latest final notice (a hold keeps the account's reminders back until sales_hold_until; a softened
-- final step is sent in the firm tone). promise_to_pay_date is the later of the ledger's date on the invoice
-- and the hold of any open promise of its customer and currency (its date plus the grace).
WITH last_charge AS (
    SELECT ci.invoice_number, c.charge_key, c.charge_day, c.status, c.failure_kind, c.retry_on,
           ROW_NUMBER() OVER (PARTITION BY ci.invoice_number ORDER BY c.attempt DESC, c.charge_day DESC) AS n
    FROM charge_invoices ci
    JOIN charges c ON c.charge_key = ci.charge_key
), last_review AS (
    SELECT customer_id, currency, step, decision, hold_until,
           ROW_NUMBER() OVER (PARTITION BY customer_id, currency ORDER BY final_on DESC, step DESC) AS n
    FROM final_notice_reviews
), promise_hold AS (
    SELECT customer_id, currency, MAX(hold_until) AS hold_until
    FROM promises
    WHERE status = 'open'
    GROUP BY customer_id, currency
)
SELECT i.invoice_number, i.customer_id, i.currency, i.due_date, i.open_cents, h.disputed = 1 AS disputed,
       CASE WHEN p.hold_until IS NULL THEN i.promise_to_pay_date
            WHEN i.promise_to_pay_date IS NULL OR p.hold_until > i.promise_to_pay_date THEN p.hold_until
            ELSE i.promise_to_pay_date END AS promise_to_pay_date,
       l.status AS charge_status, l.failure_kind AS charge_failure, l.retry_on AS charge_retry_on,
       l.charge_day, n.status AS charge_notice, m.customer_id IS NOT NULL AS on_autopay,
       CASE WHEN r.decision = 'hold' THEN r.hold_until END AS sales_hold_until,
       CASE WHEN r.decision = 'soften' THEN r.step END AS sales_softened_step
FROM invoices i
JOIN invoice_dispute_holds h ON h.invoice_number = i.invoice_number
LEFT JOIN last_charge l ON l.invoice_number = i.invoice_number AND l.n = 1
LEFT JOIN dunning_outbox n ON n.outbox_key = l.charge_key || '|autopay'
LEFT JOIN autopay_mandates m ON m.customer_id = i.customer_id AND m.currency = i.currency AND m.status = 'active'
LEFT JOIN last_review r ON r.customer_id = i.customer_id AND r.currency = i.currency AND r.n = 1
LEFT JOIN promise_hold p ON p.customer_id = i.customer_id AND p.currency = i.currency
WHERE i.status = 'open' AND i.open_cents > 0
