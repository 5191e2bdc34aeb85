-- Credit notes reduce credit sales in the month they are issued.
SELECT n.customer_id, n.currency, n.issue_date, n.amount_cents, c.collector, c.sales_rep
FROM credit_notes n
JOIN customers c ON c.customer_id = n.customer_id
