"""The demo data leaves the market pages full of life, in both languages."""

import pytest
from django.core.management import call_command

from accounts.models import User
from marketplace import selectors
from marketplace.models import CapacityRequest, Contract, QuoteStatus
from tests.translations import data_words, untranslated_words

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo():
    call_command("seed_demo", stdout=open("/dev/null", "w"))  # noqa: SIM115


def test_the_customer_has_live_quotes_a_contract_and_a_request_that_matched_nothing(client, demo):
    customer = User.objects.get(username="customer").membership.organization
    requests = CapacityRequest.objects.filter(customer=customer)
    live = [r for r in requests if r.quotes.filter(status=QuoteStatus.OPEN).exists()]
    assert live, "a request with live quotes"
    unmatched = requests.get(note__contains="24 H800")
    assert not unmatched.quotes.exists()
    assert Contract.objects.filter(customer=customer).count() >= 2
    client.force_login(User.objects.get(username="customer"))
    page = client.get(f"/market/requests/{live[0].pk}/").content.decode()
    assert "Offer 1" in page and "Why other clusters and resale listings did not match" in page
    nothing = client.get(f"/market/requests/{unmatched.pk}/").content.decode()
    assert "No offer right now" in nothing
    assert "Too few free servers for one cluster" in nothing
    assert "A different GPU model" in nothing


def _pages(username: str) -> list[str]:
    if username == "customer":
        request = CapacityRequest.objects.filter(quotes__status=QuoteStatus.OPEN).first()
        quote = request.quotes.filter(status=QuoteStatus.OPEN).first()
        return [
            "/",
            "/market/sizing/",
            "/market/requests/",
            "/market/requests/new/",
            f"/market/requests/{request.pk}/",
            f"/market/quotes/{quote.pk}/accept/",
            "/market/contracts/",
            *(f"/market/contracts/{c.pk}/" for c in _visible(username)),
        ]
    return [
        "/",
        "/market/contracts/",
        *(f"/market/contracts/{c.pk}/" for c in _visible(username)),
    ]


def _visible(username: str):
    """The contracts this demo login may open (other demo organisations sign some too)."""
    return selectors.contract_list(user=User.objects.get(username=username))


@pytest.mark.parametrize("username", ["customer", "provider", "admin"])
def test_every_market_page_is_all_chinese_in_chinese(client, demo, username):
    client.force_login(User.objects.get(username=username))
    allowed = data_words()
    for url in _pages(username):
        response = client.get(url, HTTP_ACCEPT_LANGUAGE="zh-hans")
        assert response.status_code == 200, url
        assert untranslated_words(response.content.decode(), allowed) == [], url


def test_the_demo_resells_part_of_a_contract_and_the_index_has_history(client, demo):
    from marketplace.index_models import MarketIndexDay
    from marketplace.models import ResaleListing

    listing = ResaleListing.objects.get()
    assert listing.sold_servers == 2
    sale = Contract.objects.get(kind="resale")
    assert sale.parent_contract == listing.contract
    assert MarketIndexDay.objects.filter(index_price_per_p_year__isnull=False).count() >= 12
    client.force_login(User.objects.get(username="customer"))
    page = client.get(f"/market/contracts/{listing.contract_id}/").content.decode()
    assert "Lingxi Inference Studio" in page and "List servers for resale" in page
    home = client.get("/").content.decode()
    assert "Compute price index" in home and "<svg" in home


def _counts() -> dict[str, int]:
    from billing.models import BalanceEntry, Invoice, Payment, PayoutStatement
    from marketplace.index_models import MarketIndexDay

    return {
        "contracts": Contract.objects.count(),
        "requests": CapacityRequest.objects.count(),
        "invoices": Invoice.objects.count(),
        "payments": Payment.objects.count(),
        "balance": BalanceEntry.objects.count(),
        "statements": PayoutStatement.objects.count(),
        "index days": MarketIndexDay.objects.count(),
    }


def test_the_reseller_takes_its_proceeds_as_balance_which_pays_its_own_invoice(client, demo):
    from datetime import timedelta

    from django.utils import timezone

    from billing.ledger.balance import customer_balance
    from billing.models import (
        BalanceEntry,
        Invoice,
        InvoiceStatus,
        PayoutStatement,
        PayoutStatus,
        ResaleProceeds,
    )
    from billing.payouts.proceeds import resale_proceeds_choice
    from marketplace.demo_resale import OWN_NOTE
    from marketplace.models import ResaleListing

    user = User.objects.get(username="customer")
    customer = user.membership.organization
    assert resale_proceeds_choice(organization=customer) == ResaleProceeds.BALANCE
    this_month = timezone.localdate().replace(day=1)
    last_month = (this_month - timedelta(days=1)).replace(day=1)
    # Last month: the running contract started on the 1st, part of it was listed and sold
    # that morning (in that order), inside the listing's window and the contract's term.
    sale = Contract.objects.get(kind="resale")
    listing = ResaleListing.objects.get()
    parent = sale.parent_contract
    assert parent.start_date <= listing.start <= sale.start_date == last_month
    assert sale.end_date <= listing.end <= parent.end_date
    assert parent.created_at < listing.created_at < sale.created_at
    assert timezone.localdate(sale.created_at) == last_month
    # The buyer's first month was billed that day and paid by transfer later that month.
    sold = Invoice.objects.get(contract=sale, period_index=0)
    assert sold.status == InvoiceStatus.PAID and sold.customer != customer
    assert sold.issue_date == last_month and sale.created_at < sold.finalized_at < sold.paid_at
    assert timezone.localdate(sold.paid_at).replace(day=1) == last_month
    assert sold.payments.get().created_at == sold.paid_at
    # The reseller's statement for last month, which has ended, holds it.
    statement = PayoutStatement.objects.get(provider=customer)
    assert (statement.period_start, statement.period_end) == (last_month, this_month)
    assert {line.invoice_id for line in statement.lines.all()} == {sold.pk}
    assert statement.payable > 0
    assert statement.payable == statement.collected - statement.commission - statement.sla_withheld
    # Closed by the admin after the month ended, paid as balance, which paid the reseller's
    # own invoice in full.
    assert statement.status == PayoutStatus.PAID
    assert timezone.localdate(statement.closed_at) >= statement.period_end
    assert BalanceEntry.objects.get(payout=statement).amount == statement.payable
    own = Invoice.objects.get(contract__request__note=OWN_NOTE)
    assert own.customer == customer and own.status == InvoiceStatus.PAID
    assert own.amount_paid == own.total > 0
    assert not own.payments.exists()  # no transfer, no card: the balance alone
    assert -BalanceEntry.objects.get(invoice=own, amount__lt=0).amount == own.total
    assert customer_balance(organization=customer) == statement.payable - own.total

    client.force_login(user)
    invoice_page = client.get(f"/billing/invoices/{own.pk}/").content.decode()
    assert "Balance of" in invoice_page and "applied" in invoice_page
    assert own.number in client.get("/billing/").content.decode()
    payout_page = client.get(f"/billing/payouts/{statement.pk}/").content.decode()
    assert "Applied to balance on" in payout_page
    assert f"/billing/payouts/{statement.pk}/" in client.get("/billing/payouts/").content.decode()
    allowed = data_words()
    for url in (f"/billing/invoices/{own.pk}/", f"/billing/payouts/{statement.pk}/"):
        response = client.get(url, HTTP_ACCEPT_LANGUAGE="zh-hans")
        assert untranslated_words(response.content.decode(), allowed) == [], url


def test_the_index_history_is_recorded_from_the_demos_trades(demo):
    from datetime import timedelta

    from django.utils import timezone

    from marketplace import index
    from marketplace.demo_resale import TRADE_NOTE
    from marketplace.index_models import MarketIndexDay

    today = timezone.localdate()
    rows = list(
        MarketIndexDay.objects.filter(gpu_model__code="A800-80G", region=None).order_by("day")
    )
    assert rows[0].day <= today - timedelta(weeks=16) and rows[-1].day == today
    shown = [row for row in rows if row.index_price_per_p_year is not None]
    assert len(shown) >= 12
    # Every recorded day is what the contracts signed in its trailing 30 days give, as the
    # daily task computes it: nothing illustrative.
    for row in rows:
        bucket = index.index_compute(day=row.day)[(row.gpu_model_id, None)]
        assert row.trades == len(bucket.trades) > 0, row.day
        assert row.organizations == len(bucket.organizations), row.day
        enough = len(bucket.organizations) >= index.MIN_ORGANIZATIONS
        expected = index.weighted_median(bucket.trades) if enough else None
        assert row.index_price_per_p_year == expected, row.day
    # The past trades were signed back then by three organisations other than the customer.
    customer = User.objects.get(username="customer").membership.organization
    past = Contract.objects.filter(
        created_at__date__lt=today - timedelta(days=30),
        request__note__startswith=TRADE_NOTE.split("{")[0],
    )
    assert past.exists() and not past.filter(customer=customer).exists()
    assert past.values("customer").distinct().count() == 3
    assert len({row.index_price_per_p_year for row in shown}) > 1  # it moves


def test_seeding_again_changes_nothing(demo):
    before = _counts()
    call_command("seed_demo", stdout=open("/dev/null", "w"))  # noqa: SIM115
    assert _counts() == before
