"""The rules of AR as plain functions and the Prefect tasks that wrap them, one package per stage (ledger, contacts,
dunning, charges, portal, disputes, promises, sales, selfservice, credit, kpi); what several stages share sits here:
money, aging, the warehouse, claims on work, staff mail and output file names."""
