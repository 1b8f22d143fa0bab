"""What billing tells people: emails to customers (issued, overdue, payment failed) and admins."""
