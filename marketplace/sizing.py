"""Sizing: from a workload to cards, servers and rated P, by the method of DOMAIN.md (pure).

Steps, the same for inference and training:

1. Required throughput, effective FLOP/s at the card's peak:
   - inference: 2 x params x tokens per day / 86,400 s / utilisation, with tokens per day =
     visits x questions per visit x tokens per question (question and answer);
   - training: 6 x params x tokens (8 x with activation recomputation) / (days x 86,400 s) /
     utilisation.
2. Cards from the DENSE peak, because utilisation is measured against dense maths: FP16 dense,
   or INT8 dense = 2 x FP16 dense for quantised inference. cards = ceil(required / peak).
3. Whole servers: servers = ceil(cards / GPUs per server).
4. Only then the market unit: rated P = servers x GPUs per server x FP16 sparse TFLOPS / 1,000.
   (Sizing on the sparse figure with a dense utilisation would under-size by half.)
5. Optionally the annual cost: rated P x price per P per year, to the fen.

Arithmetic is exact (integers and fractions); ``required_pflops`` is a Decimal exact to 50
significant digits, and every formula is returned as text with its numbers substituted.
"""

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, localcontext
from fractions import Fraction

from accounts.money import TFLOPS_PER_P, quantize_money

SECONDS_PER_DAY = 86_400
FLOPS_PER_TFLOPS = 10**12
FLOPS_PER_PFLOPS = 10**15
DEFAULT_UTILISATION = Decimal("0.45")  # the source article's assumption
DEFAULT_GPUS_PER_SERVER = 8
INFERENCE_FLOPS_PER_PARAMETER_TOKEN = 2  # one multiply and one add per parameter per token
TRAINING_FLOPS_PER_PARAMETER_TOKEN = 6
RECOMPUTATION_FLOPS_PER_PARAMETER_TOKEN = 8  # activation recomputation: one more forward pass
INT8_PER_FP16_DENSE = 2  # INT8 dense throughput is twice FP16 dense on every card in DOMAIN.md
PRECISIONS = ("fp16", "int8")
DISPLAY_PFLOPS = Decimal("0.001")
_PRECISION = 50  # significant digits of required_pflops


@dataclass(frozen=True)
class GpuSpec:
    code: str
    name: str
    fp16_dense_tflops: Decimal
    fp16_sparse_tflops: Decimal  # the market rating: P = cards x this / 1,000

    def __post_init__(self) -> None:
        _positive_decimal(f"{self.code} fp16_dense_tflops", self.fp16_dense_tflops)
        _positive_decimal(f"{self.code} fp16_sparse_tflops", self.fp16_sparse_tflops)


@dataclass(frozen=True)
class GpuSizing:
    code: str
    name: str
    peak_tflops: Decimal  # dense peak per card used for sizing (INT8 TOPS for int8 inference)
    cards: int
    servers: int
    rated_p: Decimal  # exact
    annual_cost: Decimal | None  # rated_p x price per P per year, to the fen; None if unpriced


@dataclass(frozen=True)
class SizingResult:
    required_pflops: Decimal  # effective PFLOPS needed at the dense peak, before whole cards
    options: tuple[GpuSizing, ...]  # one per GPU model, in the order given
    formulas: tuple[str, ...]  # each step with its numbers substituted, for the customer

    @property
    def required_pflops_display(self) -> Decimal:
        return self.required_pflops.quantize(DISPLAY_PFLOPS, rounding=ROUND_HALF_UP)


def size_inference(
    *,
    params: int,
    daily_visits: int,
    questions_per_visit: int,
    tokens_per_question: int,
    precision: str,
    utilisation: Decimal = DEFAULT_UTILISATION,
    gpus: Sequence[GpuSpec],
    gpus_per_server: int = DEFAULT_GPUS_PER_SERVER,
    price_per_p_year_by_code: Mapping[str, Decimal] | None = None,
) -> SizingResult:
    """Size an inference service answering ``daily_visits`` x ``questions_per_visit`` a day."""
    for name, value in (
        ("params", params),
        ("daily_visits", daily_visits),
        ("questions_per_visit", questions_per_visit),
        ("tokens_per_question", tokens_per_question),
    ):
        _positive_int(name, value)
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    _check_common(utilisation, gpus, gpus_per_server, price_per_p_year_by_code)

    tokens_per_day = daily_visits * questions_per_visit * tokens_per_question
    required = Fraction(
        INFERENCE_FLOPS_PER_PARAMETER_TOKEN * params * tokens_per_day, SECONDS_PER_DAY
    ) / Fraction(utilisation)
    formulas = [
        f"tokens per day = {daily_visits:,} visits x {questions_per_visit:,} questions x "
        f"{tokens_per_question:,} tokens = {tokens_per_day:,}",
        f"required = {INFERENCE_FLOPS_PER_PARAMETER_TOKEN} x {params:,} parameters x "
        f"{tokens_per_day:,} tokens / {SECONDS_PER_DAY:,} s / {utilisation} utilisation = "
        f"{_display(required)} PFLOPS",
    ]
    return _sizing(
        required,
        formulas,
        gpus,
        gpus_per_server,
        price_per_p_year_by_code,
        int8=precision == "int8",
    )


def size_training(
    *,
    params: int,
    training_tokens: int,
    days: int | Decimal,
    utilisation: Decimal = DEFAULT_UTILISATION,
    activation_recomputation: bool = False,
    gpus: Sequence[GpuSpec],
    gpus_per_server: int = DEFAULT_GPUS_PER_SERVER,
    price_per_p_year_by_code: Mapping[str, Decimal] | None = None,
) -> SizingResult:
    """Size a training run of ``training_tokens`` tokens that must finish in ``days``."""
    _positive_int("params", params)
    _positive_int("training_tokens", training_tokens)
    if isinstance(days, bool) or not isinstance(days, int | Decimal):
        raise TypeError(f"days must be an int or Decimal, not {type(days).__name__}")
    if (isinstance(days, Decimal) and not days.is_finite()) or days <= 0:
        raise ValueError(f"days must be positive, got {days}")
    _check_common(utilisation, gpus, gpus_per_server, price_per_p_year_by_code)

    per_token = (
        RECOMPUTATION_FLOPS_PER_PARAMETER_TOKEN
        if activation_recomputation
        else TRAINING_FLOPS_PER_PARAMETER_TOKEN
    )
    total_flops = per_token * params * training_tokens
    required = Fraction(total_flops) / (Fraction(days) * SECONDS_PER_DAY) / Fraction(utilisation)
    recomputation = " (activation recomputation)" if activation_recomputation else ""
    formulas = [
        f"training FLOPs = {per_token}{recomputation} x {params:,} parameters x "
        f"{training_tokens:,} tokens = {total_flops:,}",
        f"required = {total_flops:,} FLOPs / ({days:,} days x {SECONDS_PER_DAY:,} s) / "
        f"{utilisation} utilisation = {_display(required)} PFLOPS",
    ]
    return _sizing(required, formulas, gpus, gpus_per_server, price_per_p_year_by_code, int8=False)


def _sizing(
    required: Fraction,
    formulas: list[str],
    gpus: Sequence[GpuSpec],
    gpus_per_server: int,
    prices: Mapping[str, Decimal] | None,
    *,
    int8: bool,
) -> SizingResult:
    """Steps 2-5 for every GPU model, from the exact required FLOP/s."""
    options = []
    for gpu in gpus:
        peak = gpu.fp16_dense_tflops * INT8_PER_FP16_DENSE if int8 else gpu.fp16_dense_tflops
        cards = math.ceil(required / (Fraction(peak) * FLOPS_PER_TFLOPS))
        servers = -(-cards // gpus_per_server)
        price = (prices or {}).get(gpu.code)
        with localcontext() as context:
            context.prec = _PRECISION  # exact: TFLOPS and prices have far fewer digits
            rated_p = servers * gpus_per_server * gpu.fp16_sparse_tflops / TFLOPS_PER_P
            annual_cost = None if price is None else quantize_money(rated_p * price)
        peak_unit = "TOPS INT8 dense" if int8 else "TFLOPS FP16 dense"
        formulas += [
            f"{gpu.name}: cards = ceil({_display(required)} PFLOPS / {peak:,} {peak_unit}) "
            f"= {cards:,}",
            f"{gpu.name}: servers = ceil({cards:,} cards / {gpus_per_server} per server) "
            f"= {servers:,}",
            f"{gpu.name}: rated P = {servers:,} servers x {gpus_per_server} cards x "
            f"{gpu.fp16_sparse_tflops:,} TFLOPS FP16 sparse / {TFLOPS_PER_P:,} = {rated_p:,} P",
        ]
        if annual_cost is not None:
            formulas.append(
                f"{gpu.name}: annual cost = {rated_p:,} P x {price:,} per P per year = "
                f"{annual_cost:,}"
            )
        options.append(
            GpuSizing(
                code=gpu.code,
                name=gpu.name,
                peak_tflops=peak,
                cards=cards,
                servers=servers,
                rated_p=rated_p,
                annual_cost=annual_cost,
            )
        )
    return SizingResult(
        required_pflops=_decimal(required / FLOPS_PER_PFLOPS),
        options=tuple(options),
        formulas=tuple(formulas),
    )


def _decimal(value: Fraction) -> Decimal:
    with localcontext() as context:
        context.prec = _PRECISION
        return Decimal(value.numerator) / Decimal(value.denominator)


def _display(required_flops: Fraction) -> str:
    pflops = _decimal(required_flops / FLOPS_PER_PFLOPS)
    return f"{pflops.quantize(DISPLAY_PFLOPS, rounding=ROUND_HALF_UP):,}"


def _check_common(
    utilisation: Decimal,
    gpus: Sequence[GpuSpec],
    gpus_per_server: int,
    prices: Mapping[str, Decimal] | None,
) -> None:
    if not isinstance(utilisation, Decimal):
        raise TypeError(f"utilisation must be a Decimal, not {type(utilisation).__name__}")
    if not utilisation.is_finite() or not 0 < utilisation <= 1:
        raise ValueError(f"utilisation must be a fraction in (0, 1], got {utilisation}")
    if not gpus:
        raise ValueError("give at least one GPU model to size for")
    _positive_int("gpus_per_server", gpus_per_server)
    for code, price in (prices or {}).items():
        if not isinstance(price, Decimal) or not price.is_finite() or price < 0:
            raise ValueError(f"price per P per year of {code} must be a Decimal >= 0")


def _positive_int(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, not {type(value).__name__}")
    if value <= 0:
        raise ValueError(f"{name} must be positive, got {value}")


def _positive_decimal(name: str, value: object) -> None:
    if not isinstance(value, Decimal):
        raise TypeError(f"{name} must be a Decimal, not {type(value).__name__}")
    if not value.is_finite() or value <= 0:
        raise ValueError(f"{name} must be positive, got {value}")
