-- Where a statement a caller asks for goes: the customer's AP contacts' email addresses (role AP or accounts
-- payable, as for dispute notices; the contact checks' normalised address where there is one), except those the
-- contact gate refused for email and those opted out of email in the ledger or by the customer's request.
SELECT DISTINCT COALESCE(p.email, k.email) AS email
FROM contacts k
LEFT JOIN contact_profiles p ON p.contact_id = k.contact_id
WHERE k.customer_id = :customer_id AND COALESCE(p.email, k.email) IS NOT NULL AND NOT k.opt_out_email
  AND (LOWER(COALESCE(k.role, '')) LIKE '%payable%' OR LOWER(COALESCE(k.role, '')) = 'ap')
  AND NOT EXISTS (SELECT 1 FROM contact_gate g WHERE g.contact_id = k.contact_id AND NOT g.email_ok)
  AND NOT EXISTS (SELECT 1 FROM channel_opt_outs o WHERE o.channel = 'email' AND o.address = COALESCE(p.email, k.email))
ORDER BY 1
