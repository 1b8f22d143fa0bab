from django import forms
from django.contrib.auth.forms import AuthenticationForm

from accounts import ratelimit
from accounts.models import OrganizationRole


class RateLimitedAuthenticationForm(AuthenticationForm):
    """Django's login form, refusing attempts once too many have failed."""

    error_messages = {
        **AuthenticationForm.error_messages,
        "rate_limited": "Too many failed login attempts. Try again in a few minutes.",
    }

    def clean(self):
        username = self.cleaned_data.get("username") or ""
        address = ratelimit.client_address(self.request.META if self.request else {})
        if ratelimit.login_is_blocked(address=address, username=username):
            raise forms.ValidationError(self.error_messages["rate_limited"], code="rate_limited")
        try:
            cleaned = super().clean()
        except forms.ValidationError:
            ratelimit.login_failed(address=address, username=username)
            raise
        ratelimit.login_succeeded(address=address, username=username)
        return cleaned


class RegistrationForm(forms.Form):
    username = forms.RegexField(regex=r"^[\w.@+-]+\Z", max_length=150)
    email = forms.EmailField(required=False)
    password = forms.CharField(widget=forms.PasswordInput)
    organization_name = forms.CharField(max_length=200, label="Organisation name")
    roles = forms.MultipleChoiceField(
        choices=OrganizationRole.choices,
        widget=forms.CheckboxSelectMultiple,
        help_text="Providers list GPU clusters; customers book capacity. Choose one or both.",
    )
