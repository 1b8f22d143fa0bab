"""The unified social credit code (统一社会信用代码) of GB 32100-2015, as a pure check.

18 characters from ``0-9 A-H J-N P-R T U W-Y`` (31 symbols; I, O, S, V and Z are never used).
The 18th is a check character over the first 17: with each character's value in that alphabet
and the weights 3^i mod 31 (1, 3, 9, 27, 19, 26, ...), check = 31 - (sum mod 31), where 31
means 0.
"""

ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
LENGTH = 18


def check_character(first17: str) -> str:
    """The check character for the first 17 characters (upper case, from ``ALPHABET``)."""
    if len(first17) != LENGTH - 1 or any(ch not in ALPHABET for ch in first17):
        raise ValueError("need 17 characters from the code's alphabet")
    total = sum(ALPHABET.index(ch) * weight for ch, weight in zip(first17, WEIGHTS, strict=True))
    return ALPHABET[(31 - total % 31) % 31]


def problem(code: str) -> str | None:
    """Why ``code`` is not a valid unified social credit code, or None when it is.

    The answer is one of ``"length"``, ``"characters"`` or ``"check"``; callers word it.
    """
    if len(code) != LENGTH:
        return "length"
    if any(ch not in ALPHABET for ch in code):
        return "characters"
    if check_character(code[:17]) != code[17]:
        return "check"
    return None


def is_valid(code: str) -> bool:
    return problem(code) is None
