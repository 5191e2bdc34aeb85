-- Customers whose credit hold is in force (the customer_credit view, warehouse version 15: arpilot's latest
-- approved change until the ERP shows otherwise, else the ledger's flag); source says which (ledger | arpilot),
-- ledger_hold what the ledger shows, and for an arpilot hold who approved it, when and why.
SELECT k.customer_id, k.source, k.ledger_hold, k.approved_by, k.approved_at,
       (SELECT max(l.why) FROM credit_limit_changes l
        WHERE l.customer_id = k.customer_id AND l.approved_at = k.approved_at) AS why
FROM customer_credit k
WHERE k.on_hold
