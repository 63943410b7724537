"""The judge and what it feeds, one way: spec -> contract -> findings -> accepted -> ledger -> verdict -> reports."""
