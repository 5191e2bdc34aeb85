-- The contacts the contact gate judged (AP contacts of customers owing something), with tonight's verdict per
-- channel, their normalised addresses and local time zone, and every opt-out: the ledger's flags and those
-- learnt from a provider (channel_opt_outs).
SELECT g.contact_id, g.customer_id, k.name, p.email, p.phone_e164, p.phone_line_type, p.time_zone,
       g.email_ok, g.sms_ok, g.voice_ok,
       (k.opt_out_email OR EXISTS (SELECT 1 FROM channel_opt_outs o WHERE o.channel = 'email' AND o.address = p.email))
           AS opt_out_email,
       (k.opt_out_sms OR EXISTS (SELECT 1 FROM channel_opt_outs o WHERE o.channel = 'sms' AND o.address = p.phone_e164))
           AS opt_out_sms,
       (k.opt_out_voice OR EXISTS (SELECT 1 FROM channel_opt_outs o WHERE o.channel = 'voice' AND o.address = p.phone_e164))
           AS opt_out_voice
FROM contact_gate g
JOIN contacts k ON k.contact_id = g.contact_id
JOIN contact_profiles p ON p.contact_id = g.contact_id
