"""Field validators with messages in the user's language."""

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from accounts import uscc

USCC_MESSAGES = {
    "length": _("A unified social credit code has 18 characters."),
    "characters": _(
        "A unified social credit code uses only digits and the capital letters "
        "A-H, J-N, P-R, T, U and W-Y."
    ),
    "check": _("This unified social credit code's check character is wrong; check for a typo."),
}


def validate_unified_social_credit_code(value: str) -> None:
    """GB 32100-2015: 18 characters, the last a check character over the first 17."""
    problem = uscc.problem(value)
    if problem is not None:
        raise ValidationError(USCC_MESSAGES[problem], code=f"uscc_{problem}")
