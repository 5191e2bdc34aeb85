-- Each customer's latest approved credit change (credit reviews, warehouse version 15), hold or release:
-- who approved it, when and why. The executive report lists customers on hold beside the ledger's flag.
SELECT c.customer_id, c.hold_after, c.approved_by, c.approved_at, c.why
FROM credit_limit_changes c
WHERE c.approved_at = (SELECT max(l.approved_at) FROM credit_limit_changes l WHERE l.customer_id = c.customer_id)
