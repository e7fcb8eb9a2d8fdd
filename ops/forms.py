"""The panel's inputs, checked before anything reads or changes the queue."""

from __future__ import annotations

from django import forms

from contracts.task_status import TASK_STATES
from queue_tools.history import TaskFilter

MAX_SEARCH = 200


class DeadLetterQuery(forms.Form):
    page = forms.IntegerField(min_value=1, max_value=100_000, required=False)
    q = forms.CharField(max_length=MAX_SEARCH, required=False, strip=True)


class RequeueOne(forms.Form):
    entry_id = forms.CharField(max_length=64)


class RequeueMatching(forms.Form):
    q = forms.CharField(max_length=MAX_SEARCH, strip=True)


class Purge(forms.Form):
    confirm = forms.ChoiceField(choices=[("yes", "yes")], error_messages={"required": "Tick the box to confirm."})


class TaskSearch(forms.Form):
    """The task history's filters (queue_tools/history.TaskFilter), and a page's cursor."""

    pet_id = forms.CharField(max_length=64, required=False, strip=True)
    name = forms.CharField(max_length=100, required=False, strip=True)
    species = forms.CharField(max_length=50, required=False, strip=True)
    state = forms.ChoiceField(choices=[("", "any"), *((state, state) for state in TASK_STATES)], required=False)
    consumer = forms.CharField(max_length=100, required=False, strip=True)
    since = forms.DateTimeField(required=False, help_text="UTC")
    until = forms.DateTimeField(required=False, help_text="UTC")
    cursor = forms.CharField(max_length=200, required=False)

    def clean(self) -> dict:
        data = super().clean() or {}  # times without an offset are UTC (TIME_ZONE)
        if data.get("since") and data.get("until") and data["since"] > data["until"]:
            self.add_error("until", "must not be before since")
        return data

    def task_filter(self) -> TaskFilter:
        filters = TaskFilter.__dataclass_fields__
        return TaskFilter(**{key: value for key, value in self.cleaned_data.items() if key in filters and value})


class TaskAction(forms.Form):
    back = forms.CharField(max_length=2000, required=False)  # the search to go back to


class RequeueDead(TaskSearch):
    expected_count = forms.IntegerField(min_value=1)
    confirm = forms.ChoiceField(choices=[("yes", "yes")], error_messages={"required": "Tick the box to confirm."})
