-- Where a statement a caller asks for goes: the customer's contacts' email addresses (the contact checks'
-- normalised one where there is one), except those opted out of email in the ledger or by the customer's request.
SELECT DISTINCT COALESCE(p.email, k.email) AS email
FROM contacts k
LEFT JOIN contact_profiles p ON p.contact_id = k.contact_id
WHERE k.customer_id = :customer_id AND COALESCE(p.email, k.email) IS NOT NULL AND NOT k.opt_out_email
  AND NOT EXISTS (SELECT 1 FROM channel_opt_outs o WHERE o.channel = 'email' AND o.address = COALESCE(p.email, k.email))
ORDER BY 1
