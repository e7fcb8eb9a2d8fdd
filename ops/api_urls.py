from django.urls import path

from ops import api

# Under /api/tasks/ (pets_project/urls.py): JWT like the rest of the API, no session.
urlpatterns = [
    path("", api.TaskListView.as_view(), name="task-list"),
    path("requeue-dead/", api.RequeueDeadView.as_view(), name="task-requeue-dead"),
    path("<str:task_id>/", api.TaskDetailView.as_view(), name="task-detail"),
    path("<str:task_id>/cancel/", api.TaskCancelView.as_view(), name="task-cancel"),
    path("<str:task_id>/retry/", api.TaskRetryView.as_view(), name="task-retry"),
]
