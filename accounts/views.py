from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.views import LoginView
from django.shortcuts import redirect, render

from accounts import services
from accounts.forms import RateLimitedAuthenticationForm, RegistrationForm
from accounts.services import RegistrationError

FIELD_FOR_ERROR = {"organization.name": "organization_name", "organization.roles": "roles"}


class RateLimitedLoginView(LoginView):
    form_class = RateLimitedAuthenticationForm
    template_name = "accounts/login.html"
    redirect_authenticated_user = True


def register(request):
    form = RegistrationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            user, organization, _ = services.user_register(
                username=data["username"],
                password=data["password"],
                email=data.get("email") or "",
                organization_name=data["organization_name"],
                roles=data["roles"],
            )
        except RegistrationError as exc:
            for field, errors in exc.details.items():
                for error in errors:
                    form.add_error(FIELD_FOR_ERROR.get(field, field), error)
        else:
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            messages.success(request, f"Welcome, {user.username}. {organization.name} is set up.")
            return redirect("home")
    return render(request, "accounts/register.html", {"form": form})
