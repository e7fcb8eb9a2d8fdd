"""The panel's inputs, checked before anything reads or changes the queue."""

from __future__ import annotations

from django import forms

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
