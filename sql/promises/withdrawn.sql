-- Open promises from the ledger that the ledger has withdrawn: every invoice they covered is still open and none
-- carries their date any more (the customer promised another date, or the promise was struck out).
SELECT p.promise_id
FROM promises p
WHERE p.status = 'open' AND p.source = 'ledger'
  AND NOT EXISTS (SELECT 1 FROM promise_invoices c JOIN invoices i ON i.invoice_number = c.invoice_number
                  WHERE c.promise_id = p.promise_id
                    AND (i.status <> 'open' OR i.promise_to_pay_date = p.promised_for))
