-- Every contact with the profile fields the nightly checks read (customer details are read separately:
-- joining them here costs more than reading them once). phone_failed_on and phone_failure: when and how the
-- number last failed to reach anyone (a wrong number, a text or call the carrier could not deliver), the phone's
-- counterpart of bounced_on.
SELECT c.contact_id, c.customer_id, c.role, c.name AS contact_name,
       c.verified_on, c.bounced_on, c.opt_out_email, c.opt_out_sms, c.opt_out_voice,
       p.email, p.email_problem, p.email_fix, p.phone_e164, p.phone_problem, p.phone_fix,
       (SELECT MAX(f.failed_at) FROM phone_reach_failures f WHERE f.address = p.phone_e164) AS phone_failed_on,
       (SELECT f.what FROM phone_reach_failures f WHERE f.address = p.phone_e164
        ORDER BY f.failed_at DESC LIMIT 1) AS phone_failure
FROM contacts c
JOIN contact_profiles p ON p.contact_id = c.contact_id
