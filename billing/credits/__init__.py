"""Credits: credit notes on finalised invoices, SLA credits for outages (the pure maths in
``sla``), and what a termination gives back for service paid in advance and not provided."""
