-- AP contacts of the sample ERP, changed since the last sync (watermark).
SELECT CAST(contact_id AS VARCHAR(64))                         AS contact_id,
       cust_no                                                 AS customer_id,
       role                                                    AS role,
       TRIM(COALESCE(first_name, '') || ' ' || COALESCE(last_name, '')) AS name,
       email                                                   AS email,
       phone                                                   AS phone,
       tz                                                      AS time_zone,
       verified_on                                             AS verified_on,
       bounced_on                                              AS bounced_on,
       opt_out_email                                           AS opt_out_email,
       opt_out_sms                                             AS opt_out_sms,
       opt_out_voice                                           AS opt_out_voice,
       updated_at                                              AS source_updated_at
FROM contact
WHERE updated_at >= :since
