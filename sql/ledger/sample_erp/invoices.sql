-- Invoices of the sample ERP, changed since the last sync (watermark). Open balance and status are the ERP's own.
SELECT doc_no     AS invoice_number,
       cust_no    AS customer_id,
       doc_date   AS issue_date,
       due_date   AS due_date,
       currency   AS currency,
       total      AS amount,
       balance    AS open,
       status     AS status,
       disputed   AS disputed,
       ptp_date   AS promise_to_pay_date,
       dispute_code AS dispute_code,
       dispute_note AS dispute_reason,
       updated_at AS source_updated_at
FROM invoice
WHERE updated_at >= :since
