"""20,000 resale listings on top of the 10,000 clusters of benchmarks/inventory.py.

2,000 reseller contracts (bench customers), each with lines on 10 clusters and one listing per
line: a window in 2027-2028, 1-4 servers, an ask of 70-120 % of the cluster's. The contracts are
written directly (no quotes): matching reads only the listings, their contracts' status and
their sales.
"""

import random
from datetime import date, timedelta
from decimal import Decimal

LISTINGS = 20_000
PER_CONTRACT = 10


def build(rng: random.Random) -> None:
    from django.db import connection, transaction

    from accounts.models import Organization
    from inventory.models import Cluster
    from marketplace.models import (
        CapacityRequest,
        Contract,
        ContractLine,
        ResaleListing,
    )
    from marketplace.terms import months_after

    ResaleListing.objects.filter(contract__customer__name__startswith="Bench Reseller").delete()
    Contract.objects.filter(customer__name__startswith="Bench Reseller").delete()
    CapacityRequest.objects.filter(customer__name__startswith="Bench Reseller").delete()
    Organization.objects.filter(name__startswith="Bench Reseller").delete()
    resellers = Organization.objects.bulk_create(
        Organization(name=f"Bench Reseller {i}", is_customer=True) for i in range(100)
    )
    clusters = list(
        Cluster.objects.filter(status="listed").values_list(
            "pk",
            "price_per_p_year",
            "gpus_per_server",
            "gpu_model__fp16_sparse_tflops",
            "provider_id",
        )
    )
    contracts = LISTINGS // PER_CONTRACT
    start, end = date(2027, 1, 1), date(2029, 1, 1)
    with transaction.atomic():
        requests = CapacityRequest.objects.bulk_create(
            CapacityRequest(
                customer=resellers[i % len(resellers)],
                servers=PER_CONTRACT,
                start_date=start,
                term_months=24,
                end_date=end,
                status="booked",
            )
            for i in range(contracts)
        )
        signed = Contract.objects.bulk_create(
            Contract(
                customer_id=request.customer_id,
                request=request,
                status="active",
                start_date=start,
                end_date=end,
                term_months=24,
                total_p=0,
                price_per_p_year=1,
                annual_price=0,
                total_price=0,
                vat_rate=Decimal("0.06"),
            )
            for request in requests
        )
        lines, listings = [], []
        for contract in signed:
            for pk, price, gpus, sparse, provider in rng.sample(clusters, PER_CONTRACT):
                servers = rng.randint(1, 4)
                p = servers * gpus * sparse / 1000
                lines.append(
                    ContractLine(
                        contract=contract,
                        cluster_id=pk,
                        provider_id=provider,
                        servers=servers,
                        p=p,
                        price_per_p_year=price,
                    )
                )
                first = start + timedelta(days=rng.randrange(0, 360))
                listings.append(
                    ResaleListing(
                        contract=contract,
                        cluster_id=pk,
                        servers=servers,
                        start=first,
                        end=min(months_after(first, rng.choice([3, 6, 12])), end),
                        price_per_p_year=(price * Decimal(rng.randint(70, 120)) / 100).quantize(
                            Decimal("1")
                        ),
                        min_term_months=rng.choice([1, 1, 3]),
                    )
                )
        ContractLine.objects.bulk_create(lines, batch_size=5000)
        ResaleListing.objects.bulk_create(listings, batch_size=5000)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")  # fresh statistics, as autovacuum would give a live database


def set_listed(listed: bool) -> None:
    """Open (or withdraw) every bench listing: the same data set, with and without resale."""
    from marketplace.models import ResaleListing

    ResaleListing.objects.filter(contract__customer__name__startswith="Bench Reseller").update(
        status="listed" if listed else "withdrawn"
    )
