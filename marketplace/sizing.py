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

The second question, "how many days on N servers" (training), runs the same steps backwards:
days = total FLOPs / (N x cards per server x dense peak x utilisation) / 86,400 s; the term
to rent is the fewest whole months whose shortest span (February counts) lasts that long.

Arithmetic is exact (integers and fractions); ``required_pflops`` and ``days`` are Decimals
exact to 50 significant digits, and every formula is returned as text with its numbers
substituted, in the active language.
"""

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal, localcontext
from fractions import Fraction
from functools import cache

from dateutil.relativedelta import relativedelta
from django.utils.translation import gettext

from accounts.formatting import format_money, format_rate
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
DISPLAY_DAYS = Decimal("0.1")
MONTHS_PER_YEAR = 12
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
        gettext(
            "tokens per day = %(visits)s visits x %(questions)s questions x %(tokens)s tokens "
            "= %(total)s"
        )
        % {
            "visits": f"{daily_visits:,}",
            "questions": f"{questions_per_visit:,}",
            "tokens": f"{tokens_per_question:,}",
            "total": f"{tokens_per_day:,}",
        },
        gettext(
            "required = %(flops)s x %(params)s parameters x %(tokens)s tokens / %(seconds)s s "
            "/ %(utilisation)s utilisation = %(required)s PFLOPS"
        )
        % {
            "flops": INFERENCE_FLOPS_PER_PARAMETER_TOKEN,
            "params": f"{params:,}",
            "tokens": f"{tokens_per_day:,}",
            "seconds": f"{SECONDS_PER_DAY:,}",
            "utilisation": utilisation,
            "required": _display(required),
        },
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

    total_flops, formulas = _training_flops(params, training_tokens, activation_recomputation)
    required = Fraction(total_flops) / (Fraction(days) * SECONDS_PER_DAY) / Fraction(utilisation)
    formulas.append(
        gettext(
            "required = %(total)s FLOPs / (%(days)s days x %(seconds)s s) / %(utilisation)s "
            "utilisation = %(required)s PFLOPS"
        )
        % {
            "total": f"{total_flops:,}",
            "days": f"{days:,}",
            "seconds": f"{SECONDS_PER_DAY:,}",
            "utilisation": utilisation,
            "required": _display(required),
        }
    )
    return _sizing(required, formulas, gpus, gpus_per_server, price_per_p_year_by_code, int8=False)


def _training_flops(
    params: int, training_tokens: int, activation_recomputation: bool
) -> tuple[int, list[str]]:
    """Total training FLOPs (6 or, with activation recomputation, 8 x params x tokens)."""
    per_token = (
        RECOMPUTATION_FLOPS_PER_PARAMETER_TOKEN
        if activation_recomputation
        else TRAINING_FLOPS_PER_PARAMETER_TOKEN
    )
    total_flops = per_token * params * training_tokens
    values = {
        "per_token": per_token,
        "params": f"{params:,}",
        "tokens": f"{training_tokens:,}",
        "total": f"{total_flops:,}",
    }
    if activation_recomputation:
        formula = gettext(
            "training FLOPs = %(per_token)s (activation recomputation) x %(params)s parameters "
            "x %(tokens)s tokens = %(total)s"
        )
    else:
        formula = gettext(
            "training FLOPs = %(per_token)s x %(params)s parameters x %(tokens)s tokens = %(total)s"
        )
    return total_flops, [formula % values]


@dataclass(frozen=True)
class GpuDuration:
    code: str
    name: str
    peak_tflops: Decimal  # FP16 dense peak per card
    servers: int
    cards: int
    rated_p: Decimal  # exact
    days: Decimal  # the run's length in days, exact to 50 significant digits
    term_months: int  # the fewest whole months that always last ``days``
    annual_cost: Decimal | None  # rated_p x price per P per year, to the fen
    term_cost: Decimal | None  # annual_cost x term_months / 12, to the fen

    @property
    def days_display(self) -> Decimal:
        return self.days.quantize(DISPLAY_DAYS, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class DurationResult:
    total_flops: int
    options: tuple[GpuDuration, ...]  # one per GPU model, in the order given
    formulas: tuple[str, ...]


def training_duration(
    *,
    params: int,
    training_tokens: int,
    servers: int,
    utilisation: Decimal = DEFAULT_UTILISATION,
    activation_recomputation: bool = False,
    gpus: Sequence[GpuSpec],
    gpus_per_server: int = DEFAULT_GPUS_PER_SERVER,
    price_per_p_year_by_code: Mapping[str, Decimal] | None = None,
) -> DurationResult:
    """How many days a training run of ``training_tokens`` tokens takes on ``servers`` servers
    of each GPU model: total FLOPs / (servers x cards x dense peak x utilisation), and the term
    in whole months that covers it, priced at the given asks."""
    _positive_int("params", params)
    _positive_int("training_tokens", training_tokens)
    _positive_int("servers", servers)
    _check_common(utilisation, gpus, gpus_per_server, price_per_p_year_by_code)

    total_flops, formulas = _training_flops(params, training_tokens, activation_recomputation)
    options = []
    for gpu in gpus:
        cards = servers * gpus_per_server
        flops_per_second = (
            cards * Fraction(gpu.fp16_dense_tflops) * FLOPS_PER_TFLOPS * Fraction(utilisation)
        )
        days = Fraction(total_flops) / flops_per_second / SECONDS_PER_DAY
        term_months = months_to_cover(days)
        price = (price_per_p_year_by_code or {}).get(gpu.code)
        with localcontext() as context:
            context.prec = _PRECISION
            rated_p = cards * gpu.fp16_sparse_tflops / TFLOPS_PER_P
            annual_cost = None if price is None else quantize_money(rated_p * price)
            term_cost = (
                None
                if annual_cost is None
                else quantize_money(annual_cost * term_months / MONTHS_PER_YEAR)
            )
        option = GpuDuration(
            code=gpu.code,
            name=gpu.name,
            peak_tflops=gpu.fp16_dense_tflops,
            servers=servers,
            cards=cards,
            rated_p=rated_p,
            days=_decimal(days),
            term_months=term_months,
            annual_cost=annual_cost,
            term_cost=term_cost,
        )
        formulas += _duration_formulas(
            gpu, option, total_flops, gpus_per_server, utilisation, price
        )
        options.append(option)
    return DurationResult(total_flops=total_flops, options=tuple(options), formulas=tuple(formulas))


def _duration_formulas(
    gpu: GpuSpec,
    option: GpuDuration,
    total_flops: int,
    gpus_per_server: int,
    utilisation: Decimal,
    price: Decimal | None,
) -> list[str]:
    values = {
        "gpu": gpu.name,
        "total": f"{total_flops:,}",
        "servers": f"{option.servers:,}",
        "per_server": gpus_per_server,
        "peak": _number(gpu.fp16_dense_tflops),
        "sparse": _number(gpu.fp16_sparse_tflops),
        "utilisation": utilisation,
        "seconds": f"{SECONDS_PER_DAY:,}",
        "days": f"{option.days_display:,}",
        "rated_p": f"{option.rated_p:,}",
        "per_p": f"{TFLOPS_PER_P:,}",
        "months": option.term_months,
        "shortest": f"{shortest_span_days(option.term_months):,}",
    }
    formulas = [
        gettext(
            "%(gpu)s: days = %(total)s FLOPs / (%(servers)s servers x %(per_server)s cards x "
            "%(peak)s TFLOPS FP16 dense x %(utilisation)s utilisation) / %(seconds)s s "
            "= %(days)s days"
        )
        % values,
        gettext(
            "%(gpu)s: rated P = %(servers)s servers x %(per_server)s cards x %(sparse)s TFLOPS "
            "FP16 sparse / %(per_p)s = %(rated_p)s P"
        )
        % values,
        gettext(
            "%(gpu)s: term = %(months)s months (the shortest %(months)s-month term lasts "
            "%(shortest)s days)"
        )
        % values,
    ]
    if price is not None and option.term_cost is not None:
        formulas.append(
            gettext(
                "%(gpu)s: cost = %(rated_p)s P x %(price)s per P per year x %(months)s / 12 "
                "= %(cost)s"
            )
            % {**values, "price": format_rate(price), "cost": format_money(option.term_cost)}
        )
    return formulas


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
        values = {
            "gpu": gpu.name,
            "required": _display(required),
            "peak": _number(peak),
            "cards": f"{cards:,}",
            "per_server": gpus_per_server,
            "servers": f"{servers:,}",
            "sparse": _number(gpu.fp16_sparse_tflops),
            "per_p": f"{TFLOPS_PER_P:,}",
            "rated_p": f"{rated_p:,}",
        }
        if int8:
            cards_formula = gettext(
                "%(gpu)s: cards = ceil(%(required)s PFLOPS / %(peak)s TOPS INT8 dense) = %(cards)s"
            )
        else:
            cards_formula = gettext(
                "%(gpu)s: cards = ceil(%(required)s PFLOPS / %(peak)s TFLOPS FP16 dense) "
                "= %(cards)s"
            )
        formulas += [
            cards_formula % values,
            gettext(
                "%(gpu)s: servers = ceil(%(cards)s cards / %(per_server)s per server) = %(servers)s"
            )
            % values,
            gettext(
                "%(gpu)s: rated P = %(servers)s servers x %(per_server)s cards x %(sparse)s "
                "TFLOPS FP16 sparse / %(per_p)s = %(rated_p)s P"
            )
            % values,
        ]
        if annual_cost is not None:
            assert price is not None
            formulas.append(
                gettext(
                    "%(gpu)s: annual cost = %(rated_p)s P x %(price)s per P per year = %(cost)s"
                )
                % {**values, "price": format_rate(price), "cost": format_money(annual_cost)}
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


def _number(value: Decimal) -> str:
    """A catalog figure without trailing zeros: ``312``, ``1,979``, ``362.5``."""
    if value == value.to_integral_value():
        return f"{int(value):,}"
    return f"{value.normalize():,}"


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


# Month lengths repeat every 48 months (four years, one of them leap: 1,461 days; the century
# rule next matters in 2100, beyond any date the platform accepts).
CYCLE_MONTHS = 48
CYCLE_DAYS = 1461
_CYCLE_STARTS = tuple(date(2021 + k // 12, k % 12 + 1, 1) for k in range(CYCLE_MONTHS))


@cache
def _shortest_within_cycle(months: int) -> int:
    return min((start + relativedelta(months=months) - start).days for start in _CYCLE_STARTS)


def shortest_span_days(months: int) -> int:
    """The fewest days any span of ``months`` calendar months can last (1 -> 28, 3 -> 89,
    12 -> 365). Spans starting on the 1st include the shortest, whatever the start day."""
    _positive_int("months", months)
    cycles, rest = divmod(months, CYCLE_MONTHS)
    return cycles * CYCLE_DAYS + _shortest_within_cycle(rest)


def months_to_cover(days: Fraction | Decimal | int) -> int:
    """The fewest whole months that last at least ``days`` from any start date."""
    needed = Fraction(days)
    if needed <= 0:
        raise ValueError(f"days must be positive, got {days}")
    cycles = max(0, math.floor(needed / CYCLE_DAYS) - 1)
    months = max(1, cycles * CYCLE_MONTHS)
    while shortest_span_days(months) < needed:
        months += 1
    return months
