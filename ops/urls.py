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
    path("tasks/", staff_session(views.tasks), name="ops-tasks"),
    path("tasks/requeue-dead/", staff_session(views.requeue_dead), name="ops-requeue-dead"),
    path("tasks/<str:task_id>/cancel/", staff_session(views.cancel_task), name="ops-cancel-task"),
    path("tasks/<str:task_id>/retry/", staff_session(views.retry_task), name="ops-retry-task"),
]
