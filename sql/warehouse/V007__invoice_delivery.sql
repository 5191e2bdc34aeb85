-- arpilot AR warehouse, version 7: invoices delivered when issued.
-- pdf_path: the ERP's own PDF of the invoice when the ledger names one (a file path, relative ones under the dunning
-- policy's invoice_pdf_dir); arpilot emails that file, and renders one from the invoice data only when it is NULL.
-- Each delivery is a dunning_outbox row with channel 'invoice' and the key '<invoice number>|invoice', reserved
-- before the email goes out like every reminder, so an invoice is delivered once.
ALTER TABLE invoices ADD COLUMN pdf_path VARCHAR(1024);

-- Which invoices wait to be delivered (open, issued since delivery was switched on) is read by issue date.
CREATE INDEX invoices_status_issue ON invoices (status, issue_date);
