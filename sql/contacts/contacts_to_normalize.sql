-- Contacts to normalise: new, changed, or whose customer's address (or the company's time zone) changed
-- since their profile was made.
SELECT c.contact_id, c.customer_id, c.email AS raw_email, c.phone AS raw_phone, c.time_zone AS raw_time_zone,
       c.row_hash, cu.country, cu.time_zone AS customer_time_zone
FROM contacts c
JOIN customers cu ON cu.customer_id = c.customer_id
LEFT JOIN contact_profiles p ON p.contact_id = c.contact_id
WHERE p.contact_id IS NULL
   OR p.contact_row_hash <> c.row_hash
   OR COALESCE(p.customer_country, '') <> COALESCE(cu.country, '')
   OR COALESCE(p.customer_time_zone, '') <> COALESCE(cu.time_zone, '')
   OR p.company_time_zone <> :company_time_zone
