"""Who may do what in the operations panel: staff see it; staff in the "viewers" group only see.

A viewer sees the queues, the consumers, the dead letters and the audit trail, and is refused
(403, nothing changed) every action: requeue, requeue matching, purge. Superusers can always act.
`manage.py viewer <username>` makes a viewer (`--remove` undoes it).
"""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

VIEWERS_GROUP = "viewers"


def can_see(user: AbstractBaseUser | AnonymousUser) -> bool:
    return bool(user.is_authenticated and getattr(user, "is_staff", False))


def can_act(user: AbstractBaseUser | AnonymousUser) -> bool:
    if not can_see(user):
        return False
    if getattr(user, "is_superuser", False):
        return True
    return not user.groups.filter(name=VIEWERS_GROUP).exists()  # type: ignore[union-attr]
