-- The last contact check run on or before a day: per check, contacts evaluated and failed.
SELECT check_name, evaluated, failed, checked_on
FROM contact_check_runs
WHERE run_id = (SELECT run_id FROM contact_check_runs WHERE checked_on <= :day
                ORDER BY checked_at DESC LIMIT 1)
