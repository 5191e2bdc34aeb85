-- Where the contacts' time zones came from (contact, customer, country, phone, company) and how many are
-- ambiguous: the hour a reminder arrives is only as right as this.
SELECT time_zone_source AS source, COUNT(*) AS contacts,
       SUM(CASE WHEN time_zone_ambiguous THEN 1 ELSE 0 END) AS ambiguous
FROM contact_profiles
GROUP BY time_zone_source
ORDER BY COUNT(*) DESC
