-- The customers whose AP contact has this number: the normalised E.164 number of the contact checks, or the
-- ledger's own text where it is already in E.164 (a contact not normalised yet).
SELECT DISTINCT c.customer_id, c.name, c.collector
FROM contacts k
JOIN customers c ON c.customer_id = k.customer_id
LEFT JOIN contact_profiles p ON p.contact_id = k.contact_id
WHERE p.phone_e164 = :phone OR k.phone = :phone
ORDER BY c.customer_id
