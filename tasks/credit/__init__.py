"""Credit reviews: each customer's payment behaviour over the review months as signals, scored on the credit
policy's open scorecard into a recommendation (raise, keep, lower, hold, change terms) with its reasons in words.
Hands the proposals to sales and to the controller's approval before any limit changes."""
