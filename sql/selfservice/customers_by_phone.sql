-- The customers whose AP contact has this number: the normalised E.164 number of the contact checks, or the
-- ledger's own text where it is already in E.164 (a contact not normalised yet). Two indexed lookups joined by
-- UNION, not one OR across a join (which scans every contact).
SELECT c.customer_id, c.name, c.collector
FROM customers c
WHERE c.customer_id IN (SELECT p.customer_id FROM contact_profiles p WHERE p.phone_e164 = :phone
                        UNION SELECT k.customer_id FROM contacts k WHERE k.phone = :phone)
ORDER BY c.customer_id
