from django.urls import path

from ops import views

urlpatterns = [
    path("", views.panel, name="ops-panel"),
    path("state/", views.state, name="ops-state"),
    path("login/", views.login_view, name="ops-login"),
    path("logout/", views.logout_view, name="ops-logout"),
    path("dead/requeue/", views.requeue_one, name="ops-requeue"),
    path("dead/requeue-matching/", views.requeue_matching, name="ops-requeue-matching"),
    path("dead/purge/", views.purge, name="ops-purge"),
]
