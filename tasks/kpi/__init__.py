"""The KPI stage: rebuild balances at any past day from the warehouse, compute DSO, CEI and the rest per currency
and scope (open disputes by age and reason, promises to pay kept and broken), convert them into the reporting
currency for the executives' one-pager, and write, draw and email each audience's report. It hands stakeholders
their PDFs."""
