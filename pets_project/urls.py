from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from pets.health import health_live, health_ready
from pets.metrics import metrics_view
from pets.page import pet_rows, pets_page
from pets.tokens import LoginView, LogoutView, RefreshView

# The API's own routes first: Django tries the patterns in order, on every request.
urlpatterns = [
    path("api/", include("pets.urls")),
    path("", pets_page, name="pets-page"),
    path("rows/", pet_rows, name="pet-rows"),
    path("health/", health_live, name="health-live"),
    path("health/ready/", health_ready, name="health-ready"),
    path("metrics", metrics_view, name="metrics"),
    path("api/tasks/", include("ops.api_urls")),
    path("api/token/", LoginView.as_view(), name="token-obtain"),
    path("api/token/refresh/", RefreshView.as_view(), name="token-refresh"),
    path("api/token/logout/", LogoutView.as_view(), name="token-logout"),
    path("api/schema/", SpectacularAPIView.as_view(permission_classes=[]), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema", permission_classes=[]), name="docs"),
    path("ops/", include("ops.urls")),
]

handler400 = "pets.errors.json_bad_request"
handler404 = "pets.errors.json_not_found"
handler500 = "pets.errors.json_server_error"
