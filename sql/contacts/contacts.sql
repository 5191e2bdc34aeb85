-- Every contact with its customer's address and its stored profile (NULL until first normalised).
SELECT c.contact_id, c.customer_id, c.role, c.name AS contact_name,
       c.email AS raw_email, c.phone AS raw_phone, c.time_zone AS raw_time_zone,
       c.verified_on, c.bounced_on, c.opt_out_email, c.opt_out_sms, c.opt_out_voice, c.row_hash,
       cu.name AS customer_name, cu.country, cu.time_zone AS customer_time_zone, cu.collector,
       p.source_hash, p.email, p.email_problem, p.email_fix, p.phone_e164, p.phone_extension, p.phone_line_type,
       p.phone_problem, p.phone_fix, p.time_zone, p.time_zone_source, p.time_zone_ambiguous
FROM contacts c
JOIN customers cu ON cu.customer_id = c.customer_id
LEFT JOIN contact_profiles p ON p.contact_id = c.contact_id
