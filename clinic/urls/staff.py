from django.contrib.auth import views as auth_views
from django.urls import include, path

from clinic.forms import StaffLoginForm
from clinic.views import accounts, home, tablet

urlpatterns = [
    path(
        "login/",
        auth_views.LoginView.as_view(
            authentication_form=StaffLoginForm, redirect_authenticated_user=True
        ),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("password-reset/", accounts.PasswordResetView.as_view(), name="password-reset"),
    path(
        "password-reset/sent/",
        accounts.PasswordResetDoneView.as_view(),
        name="password-reset-done",
    ),
    path("", home.staff_home, name="home"),
    path("tablet/hand-back/", tablet.tablet_handback, name="tablet-handback"),
    path("locations/", include("clinic.urls.locations")),
    path("accounts/", include("clinic.urls.accounts")),
    path("second-factor/", include("clinic.urls.second_factor")),
    path("audit/", include("clinic.urls.audit")),
]
