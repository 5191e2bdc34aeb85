-- The customer's AP contacts, accounts payable first (what the dispute's reader calls or writes to).
SELECT name, role, email, phone FROM contacts
WHERE customer_id = :customer
ORDER BY CASE WHEN LOWER(COALESCE(role, '')) LIKE '%payable%' OR LOWER(COALESCE(role, '')) = 'ap' THEN 0 ELSE 1 END,
         contact_id
