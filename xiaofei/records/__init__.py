"""What is kept per user: the history of results, and the audit trail."""
