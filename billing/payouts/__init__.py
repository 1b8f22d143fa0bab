"""Provider payouts: monthly statements of what was collected, less commission and SLA credits."""
