-- Every invoice number in the sample ERP, changed or not: invoices missing here were deleted in the ledger.
SELECT doc_no AS invoice_number
FROM invoice
