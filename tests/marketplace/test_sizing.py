"""Sizing a workload in cards, servers and rated P (DOMAIN.md's method). Pure: no database."""

from decimal import Decimal, localcontext

import pytest

from marketplace.sizing import GpuSpec, size_inference, size_training

A800 = GpuSpec("A800", "A800 80GB", Decimal("312"), Decimal("624"))
H800 = GpuSpec("H800", "H800 80GB", Decimal("989"), Decimal("1979"))


def option(result, code):
    return next(o for o in result.options if o.code == code)


def chat_service(precision="int8", **overrides):
    arguments = {
        "params": 175_000_000_000,
        "daily_visits": 10_000_000,
        "questions_per_visit": 10,
        "tokens_per_question": 1_000,
        "precision": precision,
        "gpus": [A800],
        "price_per_p_year_by_code": {"A800": Decimal("120000")},
    }
    return size_inference(**{**arguments, **overrides})


def test_inference_of_a_175b_model_on_a800_in_int8():
    result = chat_service("int8")
    # tokens/day = 10,000,000 x 10 x 1,000 = 1e11
    # required = 2 x 175e9 x 1e11 / 86,400 / 0.45 = 3.5e22 / 38,880 = 9.0020576e17 FLOP/s
    #          = 900.206 PFLOPS
    # INT8 dense = 2 x 312 = 624 TOPS: cards = ceil(9.0020576e17 / 6.24e14) = ceil(1442.64) = 1,443
    # servers = ceil(1,443 / 8) = 181; rated = 181 x 8 x 624 / 1,000 = 903.552 P
    # annual = 903.552 x 120,000 = 108,426,240.00
    assert result.required_pflops_display == Decimal("900.206")
    # Exact to 50 significant digits: 35,000,000 / 38,880 = 900.2057613168724279835390946502...
    assert result.required_pflops == Decimal("900.20576131687242798353909465020576131687242798354")
    a800 = option(result, "A800")
    assert (a800.peak_tflops, a800.cards, a800.servers) == (Decimal("624"), 1443, 181)
    assert a800.rated_p == Decimal("903.552")
    assert a800.annual_cost == Decimal("108426240.00")
    assert result.formulas == (
        "tokens per day = 10,000,000 visits x 10 questions x 1,000 tokens = 100,000,000,000",
        "required = 2 x 175,000,000,000 parameters x 100,000,000,000 tokens / 86,400 s / 0.45 "
        "utilisation = 900.206 PFLOPS",
        "A800 80GB: cards = ceil(900.206 PFLOPS / 624 TOPS INT8 dense) = 1,443",
        "A800 80GB: servers = ceil(1,443 cards / 8 per server) = 181",
        "A800 80GB: rated P = 181 servers x 8 cards x 624 TFLOPS FP16 sparse / 1,000 = 903.552 P",
        "A800 80GB: annual cost = 903.552 P x ¥120,000.00 per P per year = ¥108,426,240.00",
    )


def test_int8_halves_the_cards_of_fp16():
    fp16, int8 = option(chat_service("fp16"), "A800"), option(chat_service("int8"), "A800")
    # FP16 dense 312 TFLOPS: ceil(9.0020576e17 / 3.12e14) = ceil(2885.27) = 2,886
    assert (fp16.peak_tflops, fp16.cards, fp16.servers) == (Decimal("312"), 2886, 361)
    assert fp16.cards == 2 * int8.cards
    assert fp16.rated_p == Decimal("1802.112")


def test_training_a_70b_model_in_30_days_on_h800_and_a800():
    result = size_training(
        params=70_000_000_000,
        training_tokens=2_000_000_000_000,
        days=30,
        gpus=[H800, A800],
    )
    # FLOPs = 6 x 70e9 x 2e12 = 8.4e23; required = 8.4e23 / (30 x 86,400) / 0.45
    #       = 8.4e23 / 1,166,400 = 7.2016461e17 FLOP/s = 720.165 PFLOPS
    # H800: ceil(7.2016461e17 / 9.89e14) = ceil(728.17) = 729 cards, ceil(729 / 8) = 92 servers,
    #       92 x 8 x 1,979 / 1,000 = 1,456.544 P
    # A800: ceil(7.2016461e17 / 3.12e14) = ceil(2308.22) = 2,309 cards, 289 servers,
    #       289 x 8 x 624 / 1,000 = 1,442.688 P
    assert result.required_pflops_display == Decimal("720.165")
    h800, a800 = result.options
    assert (h800.code, h800.cards, h800.servers, h800.rated_p) == (
        "H800",
        729,
        92,
        Decimal("1456.544"),
    )
    assert (a800.code, a800.cards, a800.servers, a800.rated_p) == (
        "A800",
        2309,
        289,
        Decimal("1442.688"),
    )
    assert h800.annual_cost is None and a800.annual_cost is None
    assert result.formulas[:2] == (
        "training FLOPs = 6 x 70,000,000,000 parameters x 2,000,000,000,000 tokens = "
        "840,000,000,000,000,000,000,000",
        "required = 840,000,000,000,000,000,000,000 FLOPs / (30 days x 86,400 s) / 0.45 "
        "utilisation = 720.165 PFLOPS",
    )


def test_activation_recomputation_multiplies_the_flops_by_eight_sixths():
    # 6 x 54e9 x 1e12 / (10 x 86,400) / 0.5 = 750 PFLOPS exactly; with recomputation 1,000.
    arguments = {
        "params": 54_000_000_000,
        "training_tokens": 10**12,
        "days": 10,
        "utilisation": Decimal("0.5"),
        "gpus": [H800],
    }
    plain = size_training(**arguments)
    recomputed = size_training(**arguments, activation_recomputation=True)
    assert plain.required_pflops == Decimal(750)
    assert recomputed.required_pflops == Decimal(1000) == plain.required_pflops * 8 / 6
    # 1e18 / 9.89e14 = 1011.12 -> 1,012 cards; 7.5e17 / 9.89e14 = 758.34 -> 759 cards
    assert (option(plain, "H800").cards, option(recomputed, "H800").cards) == (759, 1012)
    assert "8 (activation recomputation) x" in recomputed.formulas[0]


def test_servers_and_rated_p_follow_gpus_per_server_and_fractional_days():
    result = size_training(
        params=54_000_000_000,
        training_tokens=10**12,
        days=Decimal("7.5"),  # 1,000 PFLOPS at 50%
        utilisation=Decimal("0.5"),
        gpus=[H800],
        gpus_per_server=4,
        price_per_p_year_by_code={"H800": Decimal("118000"), "A800": Decimal("120000")},
    )
    h800 = option(result, "H800")
    # 1,012 cards in servers of 4 = 253 servers = 253 x 4 x 1,979 / 1,000 = 2,002.748 P
    assert (h800.cards, h800.servers, h800.rated_p) == (1012, 253, Decimal("2002.748"))
    assert h800.annual_cost == Decimal("236324264.00")


def test_full_utilisation_is_allowed():
    result = chat_service("int8", utilisation=Decimal("1"))
    assert option(result, "A800").cards == 650  # 4.0509259e17 / 6.24e14 = 649.19


@pytest.mark.parametrize(
    ("overrides", "error", "message"),
    [
        ({"params": 0}, ValueError, "params must be positive"),
        ({"daily_visits": -1}, ValueError, "daily_visits must be positive"),
        ({"questions_per_visit": 0}, ValueError, "questions_per_visit"),
        ({"tokens_per_question": 0}, ValueError, "tokens_per_question"),
        ({"utilisation": Decimal("0")}, ValueError, r"utilisation must be a fraction in \(0, 1\]"),
        ({"utilisation": Decimal("1.01")}, ValueError, "utilisation"),
        ({"utilisation": Decimal("-0.5")}, ValueError, "utilisation"),
        ({"utilisation": 0.45}, TypeError, "utilisation must be a Decimal"),
        ({"params": 175e9}, TypeError, "params must be an int"),
        ({"precision": "fp8"}, ValueError, "precision must be one of fp16, int8"),
        ({"gpus": []}, ValueError, "at least one GPU model"),
        ({"gpus_per_server": 0}, ValueError, "gpus_per_server must be positive"),
        ({"price_per_p_year_by_code": {"A800": Decimal("-1")}}, ValueError, "A800"),
    ],
)
def test_inference_inputs_are_validated(overrides, error, message):
    with pytest.raises(error, match=message):
        chat_service(**{"precision": "int8", **overrides})


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"training_tokens": 0}, "training_tokens must be positive"),
        ({"days": 0}, "days must be positive"),
        ({"days": Decimal("-1")}, "days must be positive"),
    ],
)
def test_training_inputs_are_validated(overrides, message):
    arguments = {"params": 10**9, "training_tokens": 10**12, "days": 1, "gpus": [A800]}
    with pytest.raises(ValueError, match=message):
        size_training(**{**arguments, **overrides})


def test_gpu_specs_need_positive_decimal_ratings():
    with pytest.raises(ValueError, match="positive"):
        GpuSpec("X", "X", Decimal("0"), Decimal("1"))
    with pytest.raises(TypeError, match="Decimal"):
        GpuSpec("X", "X", 312, Decimal("624"))


# --- How many days on N servers -------------------------------------------------------------
def test_days_on_n_servers_divides_the_work_by_the_dense_throughput():
    from fractions import Fraction

    from marketplace.sizing import training_duration

    result = training_duration(
        params=70_000_000_000,
        training_tokens=2_000_000_000_000,
        servers=64,
        gpus=[H800, A800],
        price_per_p_year_by_code={"H800": Decimal("135000")},
    )
    assert result.total_flops == 840_000_000_000_000_000_000_000
    h800, a800 = result.options
    # 8.4e23 / (64 x 8 x 989e12 x 0.45) / 86,400 s = 42.6673... days
    exact = Fraction(84 * 10**22) / (512 * 989 * 10**12 * Fraction(45, 100)) / 86_400
    with localcontext() as context:
        context.prec = 50  # days are exact to 50 significant digits
        assert h800.days == Decimal(exact.numerator) / Decimal(exact.denominator)
    assert h800.days_display == Decimal("42.7")
    assert (h800.cards, h800.servers, h800.rated_p) == (512, 64, Decimal("1013.248"))
    assert h800.term_months == 2  # one month may be 28 days; two always last 59
    assert h800.annual_cost == Decimal("136788480.00")  # 1,013.248 P x 135,000
    assert h800.term_cost == Decimal("22798080.00")  # x 2 / 12
    # A800 has 312 TFLOPS dense: 989 / 312 times as long, 135.247 days -> 5 months.
    assert a800.days_display == Decimal("135.2")
    assert a800.term_months == 5 and a800.annual_cost is None and a800.term_cost is None
    assert result.formulas[0] == (
        "training FLOPs = 6 x 70,000,000,000 parameters x 2,000,000,000,000 tokens = "
        "840,000,000,000,000,000,000,000"
    )
    assert result.formulas[1] == (
        "H800 80GB: days = 840,000,000,000,000,000,000,000 FLOPs / (64 servers x 8 cards x 989 "
        "TFLOPS FP16 dense x 0.45 utilisation) / 86,400 s = 42.7 days"
    )
    assert "H800 80GB: term = 2 months (the shortest 2-month term lasts 59 days)" in (
        result.formulas
    )


def test_recomputation_makes_the_run_eight_sixths_as_long():
    from marketplace.sizing import training_duration

    arguments = {
        "params": 10**9,
        "training_tokens": 10**12,
        "servers": 3,
        "gpus": [A800],
        "utilisation": Decimal("0.5"),
    }
    plain = training_duration(**arguments).options[0]
    recomputed = training_duration(**arguments, activation_recomputation=True).options[0]
    with localcontext() as context:
        context.prec = 60
        assert abs(recomputed.days - plain.days * 8 / 6) < Decimal("1e-45")


@pytest.mark.parametrize(
    ("months", "days"), [(1, 28), (2, 59), (3, 89), (6, 181), (12, 365), (48, 1461), (60, 1826)]
)
def test_the_shortest_span_of_whole_months(months, days):
    from marketplace.sizing import shortest_span_days

    assert shortest_span_days(months) == days


@pytest.mark.parametrize(
    ("days", "months"),
    [
        (1, 1),
        (28, 1),
        (Decimal("28.01"), 2),
        (59, 2),
        (60, 3),
        (365, 12),
        (366, 13),
        (10**6, 32_855),
    ],
)
def test_the_term_that_covers_a_run(days, months):
    from marketplace.sizing import months_to_cover, shortest_span_days

    assert months_to_cover(days) == months
    assert shortest_span_days(months) >= days
    if months > 1:
        assert shortest_span_days(months - 1) < days


def test_days_on_n_servers_validates_its_inputs():
    from marketplace.sizing import training_duration

    with pytest.raises(ValueError, match="servers must be positive"):
        training_duration(params=1, training_tokens=1, servers=0, gpus=[A800])
    with pytest.raises(TypeError, match="servers must be an int"):
        training_duration(params=1, training_tokens=1, servers=1.5, gpus=[A800])


def test_formulas_follow_the_language():
    from django.utils import translation

    with translation.override("zh-hans"):
        result = chat_service("int8")
    assert result.formulas[0].startswith("每日 Token 数 = 10,000,000 次访问")
    assert "向上取整" in result.formulas[2]
