-- Every customer's name and collector, and whether it has any contact at all.
SELECT cu.customer_id, cu.name AS customer_name, cu.collector,
       EXISTS (SELECT 1 FROM contacts c WHERE c.customer_id = cu.customer_id) AS has_contacts
FROM customers cu
