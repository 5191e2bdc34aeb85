"""Sales before the final notice: a few days before an account reaches a final dunning step its sales rep gets the
account's story and chooses proceed, hold or soften (silence: proceed); the answer, with who and why, is kept in
final_notice_reviews, which the dunning plan reads."""
