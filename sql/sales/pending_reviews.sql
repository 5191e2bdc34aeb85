-- Final notices the sales rep has not answered yet and that are still ahead, with the customer's name.
SELECT r.customer_id, r.currency, r.step, r.final_on, r.sales_rep, r.asked_at, c.name AS customer_name
FROM final_notice_reviews r
JOIN customers c ON c.customer_id = r.customer_id
WHERE r.decision IS NULL AND r.final_on > :today
ORDER BY r.sales_rep, r.final_on, r.customer_id, r.currency
