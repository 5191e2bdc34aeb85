"""The charges stage: take what is due from autopay customers through the payment gateway, exactly once per
customer, currency and day. It hands the warehouse the payments (so tonight's aging and tomorrow's dunning see
them), the ERP a payment export, and dunning the invoices to hold while a bank debit settles."""
