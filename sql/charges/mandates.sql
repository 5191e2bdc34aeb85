-- Active autopay mandates.
SELECT customer_id, currency, gateway_customer, payment_method, method_type, last4, max_charge_cents, updated_at
FROM autopay_mandates
WHERE status = 'active'
