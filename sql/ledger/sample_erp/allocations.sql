-- Which payment or credit note settles how much of which invoice, changed since the last sync (watermark).
SELECT CAST(alloc_id AS VARCHAR(64)) AS allocation_id,
       doc_kind                      AS document_kind,
       doc_ref                       AS document_id,
       invoice_doc_no                AS invoice_number,
       amount                        AS amount,
       updated_at                    AS source_updated_at
FROM allocation
WHERE updated_at >= :since
