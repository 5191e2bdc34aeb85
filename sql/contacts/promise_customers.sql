-- Customers with a promise to pay open or decided lately: tonight's review may thank them or write to them
-- about it even when they owe nothing any more, so their contacts are judged like those of customers owing.
SELECT DISTINCT customer_id FROM promises WHERE status = 'open' OR resolved_on >= :since
