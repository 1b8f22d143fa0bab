"""Figures people read that derive from the catalog (pure, no ORM): the reference figures of
the home page, a server's rating in P (cards x FP16 sparse TFLOPS / 1,000) and what it rents
for a year at a price per P per year. (A contract's monthly charge is
``marketplace.pricing.monthly_price``, from its exact annual price.)
"""

from dataclasses import dataclass
from decimal import Decimal, localcontext

from accounts.money import TFLOPS_PER_P, quantize_money

_EXACT_PRECISION = 50  # P (14 digits) x a rate (20 digits) stays exact in this many


@dataclass(frozen=True)
class ReferenceServer:
    gpu_code: str
    gpu_name: str
    gpus_per_server: int
    fp16_sparse_tflops: Decimal  # per card
    p_per_server: Decimal  # exact
    price_per_p_year: Decimal
    price_per_server_year: Decimal  # to the fen


def reference_server(
    *,
    gpu_code: str,
    gpu_name: str,
    gpus_per_server: int,
    fp16_sparse_tflops: Decimal,
    price_per_p_year: Decimal,
) -> ReferenceServer:
    """One server's rating and its rent for a year: 8 x 624 TFLOPS = 4.992 P; 4.992 P x
    ¥120,000 = ¥599,040.00."""
    with localcontext() as context:
        context.prec = _EXACT_PRECISION
        p_per_server = gpus_per_server * fp16_sparse_tflops / TFLOPS_PER_P
        price = quantize_money(p_per_server * price_per_p_year)
    return ReferenceServer(
        gpu_code=gpu_code,
        gpu_name=gpu_name,
        gpus_per_server=gpus_per_server,
        fp16_sparse_tflops=fp16_sparse_tflops,
        p_per_server=p_per_server,
        price_per_p_year=price_per_p_year,
        price_per_server_year=price,
    )
