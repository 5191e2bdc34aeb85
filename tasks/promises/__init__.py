"""Promises to pay: recorded from the ledger, the portal, an SMS reply or by a collector; each holds dunning for its
customer and currency until its date plus a grace, then is judged kept or broken. Hands on the holds (to dunning's
open-invoice query), the outcomes once each (event, sales rep's email) and the customer notices dunning sends."""
