-- Every contact with the profile fields the nightly checks read (customer details are read separately:
-- joining them here costs more than reading them once).
SELECT c.contact_id, c.customer_id, c.role, c.name AS contact_name,
       c.verified_on, c.bounced_on, c.opt_out_email, c.opt_out_sms, c.opt_out_voice,
       p.email, p.email_problem, p.email_fix, p.phone_e164, p.phone_problem, p.phone_fix
FROM contacts c
JOIN contact_profiles p ON p.contact_id = c.contact_id
