-- Credit notes issued, changed since the last sync (watermark).
SELECT cn_no      AS credit_note_id,
       cust_no    AS customer_id,
       doc_date   AS issue_date,
       currency   AS currency,
       amount     AS amount,
       reason     AS reason,
       updated_at AS source_updated_at
FROM credit_note
WHERE updated_at >= :since
