"""The contact stage: normalise the AP contacts, check them with Great Expectations suites, write each collector's
cleanup worklist, and decide the sending gate. It hands dunning the contacts fit to be written to, per channel."""
