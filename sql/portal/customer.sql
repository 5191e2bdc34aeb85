-- The customer a pay link names: what the portal page shows at the top.
SELECT customer_id, name, currency FROM customers WHERE customer_id = :customer_id
