"""Forms of the accounts pages. They check shape (lengths, formats); the services check rules."""

from django import forms
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth import forms as auth_forms
from django.utils.translation import gettext_lazy as _

from accounts import throttling
from accounts.models import ApiToken, MembershipRole, Organization, OrganizationRole, User

USERNAME_HELP = _("Letters, digits and @ . + - _ only; at most 150 characters.")
# What settings.AUTH_PASSWORD_VALIDATORS ask for, in words.
PASSWORD_HELP = _(
    "At least 8 characters, not only digits, not a common password and not too like your "
    "username or email."
)


class LockoutMessageMixin:
    """Say that logging in is paused (django-axes) instead of "wrong password"."""

    def clean(self):
        try:
            return super().clean()
        except forms.ValidationError:
            if self.request is not None and throttling.is_locked_out(self.request):
                raise forms.ValidationError(
                    throttling.lockout_message(), code="locked_out"
                ) from None
            raise


class LoginForm(LockoutMessageMixin, auth_forms.AuthenticationForm):
    """Django's login form; failures are counted and limited by django-axes."""


class AdminLoginForm(LockoutMessageMixin, AdminAuthenticationForm):
    """The admin's login form, with the same throttle message."""


class PasswordConfirmMixin:
    """``password`` and ``password_confirm`` must be the same."""

    def clean(self):
        data = super().clean()
        if (
            data.get("password")
            and data.get("password_confirm") is not None
            and data["password"] != data["password_confirm"]
        ):
            self.add_error("password_confirm", _("The two passwords differ."))
        return data


class PasswordHelpMixin:
    """Django's password forms with the validators' rules in our words (plain text)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["new_password1"].help_text = PASSWORD_HELP


class PasswordChangeForm(PasswordHelpMixin, auth_forms.PasswordChangeForm):
    pass


class SetPasswordForm(PasswordHelpMixin, auth_forms.SetPasswordForm):
    pass


class RegistrationForm(PasswordConfirmMixin, forms.Form):
    username = forms.RegexField(
        label=_("Username"), regex=r"^[\w.@+-]+\Z", max_length=150, help_text=USERNAME_HELP
    )
    email = forms.EmailField(
        label=_("Email address"),
        help_text=_("For password resets and invitations; never shown to other organisations."),
    )
    password = forms.CharField(
        label=_("Password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=PASSWORD_HELP,
    )
    password_confirm = forms.CharField(
        label=_("Password again"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )
    organization_name = forms.CharField(
        label=_("Organisation name"),
        max_length=Organization._meta.get_field("name").max_length,
        help_text=_("How other users see you; you can add the legal name later."),
    )
    roles = forms.MultipleChoiceField(
        label=_("What will you do here?"),
        choices=OrganizationRole.choices,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("Providers list GPU clusters; customers book capacity. Choose one or both."),
    )


class OrganizationProfileForm(forms.Form):
    """The organisation's name, legal profile and contact. The service checks every value
    (the unified social credit code's check character, names taken, ...)."""

    name = forms.CharField(label=_("Organisation name"), max_length=200)
    legal_name = forms.CharField(
        label=_("Legal name"),
        max_length=200,
        required=False,
        help_text=_("As registered, e.g. 合肥算力科技有限公司; printed on statements and fapiao."),
    )
    unified_social_credit_code = forms.CharField(
        label=_("Unified social credit code"),
        max_length=18,
        required=False,
        help_text=_("统一社会信用代码: 18 characters, the last a check character."),
    )
    registered_address = forms.CharField(
        label=_("Registered address"), max_length=300, required=False
    )
    phone = forms.CharField(label=_("Phone"), max_length=40, required=False)
    bank_name = forms.CharField(label=_("Bank"), max_length=200, required=False)
    bank_account = forms.CharField(label=_("Bank account number"), max_length=64, required=False)
    contact_name = forms.CharField(label=_("Contact person"), max_length=100, required=False)
    contact_email = forms.EmailField(label=_("Contact email"), required=False)

    def changes(self, organization: Organization) -> dict[str, str]:
        """The fields whose value differs from what is stored."""
        return {
            name: value
            for name, value in self.cleaned_data.items()
            if (value or "") != (getattr(organization, name) or "")
        }


class InvitationForm(forms.Form):
    email = forms.EmailField(label=_("Email address"))
    role = forms.ChoiceField(
        label=_("Role"),
        choices=MembershipRole.choices,
        initial=MembershipRole.MEMBER,
        help_text=_(
            "Owners manage the organisation and its members; members act for it; billing "
            "sees and pays invoices."
        ),
    )


class MemberRoleForm(forms.Form):
    role = forms.ChoiceField(label=_("Role"), choices=MembershipRole.choices)


class InvitationAcceptForm(PasswordConfirmMixin, forms.Form):
    username = forms.RegexField(
        label=_("Username"),
        regex=r"^[\w.@+-]+\Z",
        max_length=User._meta.get_field("username").max_length,
        help_text=USERNAME_HELP,
    )
    password = forms.CharField(
        label=_("Password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=PASSWORD_HELP,
    )
    password_confirm = forms.CharField(
        label=_("Password again"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )


class ApiTokenForm(forms.Form):
    name = forms.CharField(
        label=_("Token name"),
        max_length=ApiToken._meta.get_field("name").max_length,
        help_text=_("What the token is for, e.g. “training cluster scheduler”."),
    )
