"""What the business allows for every number, date and text users send: checked at the edge.

Forms and serializers bound their fields with these, so no arithmetic further in (prices x P x
months, end dates, sizing) can overflow a column or a ``Decimal`` context. The figures are
generous for the trade (the reference price is ¥120,000 per P per year; the largest Chinese AI
data centres hold a few thousand servers per cluster) and documented in the operations guide.
"""

from datetime import date
from decimal import Decimal

# Prices: CNY per P per year, tax included. Up to ¥10 million (80x the reference rate).
MIN_PRICE_PER_P_YEAR = Decimal("0.01")
MAX_PRICE_PER_P_YEAR = Decimal("10000000")
# Hardware.
MAX_GPUS_PER_SERVER = 16
MAX_SERVERS_PER_CLUSTER = 100_000
MAX_SERVERS_PER_REQUEST = 100_000
# P asked for in one request: up to 1,000,000 P (about 63,000 8-card H800 servers).
MAX_REQUEST_P = Decimal("1000000")
# Terms, in months.
MIN_TERM_MONTHS = 1
MAX_TERM_MONTHS = 60
# Dates: nothing before 2020 and nothing more than ten years ahead.
EARLIEST_DATE = date(2020, 1, 1)
HORIZON_YEARS = 10
# Money amounts typed by admins (bank transfers, refunds, credits): up to ¥10 billion.
MAX_AMOUNT = Decimal("10000000000")
# Workload sizing.
MAX_MODEL_PARAMS = Decimal("1e15")  # a quadrillion parameters
MAX_TRAINING_TOKENS = Decimal("1e16")
MAX_DAILY_VISITS = Decimal("1e11")
MAX_QUESTIONS_PER_VISIT = Decimal("10000")
MAX_TOKENS_PER_QUESTION = Decimal("1000000")
MAX_SIZING_SERVERS = 100_000
MIN_UTILISATION = Decimal("0.01")  # 1%: below that, no real job runs
MAX_SIZING_DAYS = 3650  # a training run finishing within ten years
# Cluster facts other than price and size.
MAX_INTERCONNECT_GBPS = 100_000  # per server; today's fastest fabrics are 3,200 Gbit/s
MIN_SLA_UPTIME_PERCENT = Decimal("50")
MAX_OUTAGE_SERVERS = MAX_SERVERS_PER_CLUSTER
# Free text.
MAX_NAME_LENGTH = 200
MAX_NOTE_LENGTH = 2000
MAX_REASON_LENGTH = 1000
MAX_PASSWORD_LENGTH = 4096
# Codes (GPU models, regions) and the lists of them a request or a filter names.
MAX_CODE_LENGTH = 40
MAX_CODES_PER_LIST = 50
# Object ids typed into filters (``?provider=``): PostgreSQL's bigint.
MAX_ID = 2**63 - 1
# API plumbing: list pages and the ``Idempotency-Key`` header.
MAX_PAGE_SIZE = 200
MAX_PAGE_NUMBER = 1_000_000
MAX_IDEMPOTENCY_KEY_LENGTH = 255


def latest_date(today: date) -> date:
    """The last date anyone may name: ``HORIZON_YEARS`` after today (29 Feb → 28 Feb)."""
    try:
        return today.replace(year=today.year + HORIZON_YEARS)
    except ValueError:
        return today.replace(year=today.year + HORIZON_YEARS, day=28)


def date_in_horizon(value: date, today: date) -> bool:
    return EARLIEST_DATE <= value <= latest_date(today)
