"""The rules of AR as plain functions and the Prefect tasks that wrap them, one package per stage (ledger, contacts,
dunning, kpi); what several stages share sits here: money, aging, the warehouse and output file names."""
