-- A customer's contacts a collector may call, the one the call list shows first: those the contact gate lets calls
-- reach, then the other AP contacts. phone_e164 is the normalised number (NULL before the contact checks ran).
SELECT k.contact_id, k.name AS contact_name, k.phone, p.phone_e164, c.name AS customer_name
FROM contacts k
JOIN customers c ON c.customer_id = k.customer_id
LEFT JOIN contact_profiles p ON p.contact_id = k.contact_id
LEFT JOIN contact_gate g ON g.contact_id = k.contact_id
WHERE k.customer_id = :c
ORDER BY CASE WHEN g.voice_ok THEN 0 ELSE 1 END, k.contact_id
