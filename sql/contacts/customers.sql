-- Every customer's name and collector.
SELECT customer_id, name AS customer_name, collector
FROM customers
