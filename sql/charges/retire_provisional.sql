-- A payment arpilot took is allocated at once by arpilot (allocation id "<payment id>:<invoice>"); once the ERP
-- has imported it, the ledger's own allocation of the same payment to the same invoice replaces arpilot's.
DELETE FROM allocations
WHERE allocation_id IN (
    SELECT mine.allocation_id
    FROM allocations mine
    JOIN gateway_payments g ON g.payment_id = mine.document_id
    JOIN allocations erp ON erp.document_kind = 'payment' AND erp.document_id = mine.document_id
                         AND erp.invoice_number = mine.invoice_number AND erp.allocation_id <> mine.allocation_id
    WHERE mine.document_kind = 'payment' AND mine.allocation_id = mine.document_id || ':' || mine.invoice_number
)
