"""The ledger stage: read what changed in the company's AR ledger (SQL database or file exports), validate it
row by row, and write it to the AR warehouse, quarantining every refused row with its reason. It hands the
contact checks and dunning a warehouse whose counts reconcile with what was read."""
