from django.urls import path

from ops import views
from ops.sessions import staff_session

# Every view of the panel runs with a session (ops/sessions.py): the rest of the site has none.
urlpatterns = [
    path("", staff_session(views.panel), name="ops-panel"),
    path("state/", staff_session(views.state), name="ops-state"),
    path("login/", staff_session(views.login_view), name="ops-login"),
    path("logout/", staff_session(views.logout_view), name="ops-logout"),
    path("dead/requeue/", staff_session(views.requeue_one), name="ops-requeue"),
    path("dead/requeue-matching/", staff_session(views.requeue_matching), name="ops-requeue-matching"),
    path("dead/purge/", staff_session(views.purge), name="ops-purge"),
]
