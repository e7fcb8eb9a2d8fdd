"""`manage.py viewer <username>`: make a user a viewer of the operations panel (ops/roles.py).

A viewer is a staff user in the "viewers" group: the panel shows them everything and refuses
them every action. `--remove` takes the user out of the group (they stay staff);
`--list` prints the viewers.
"""

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError

from ops.roles import VIEWERS_GROUP

CREATE_USER = (
    'manage.py shell -c "from django.contrib.auth.models import User; '
    "User.objects.create_user('{username}', password='a-long-password')\""
)


class Command(BaseCommand):
    help = "Make a user a read-only viewer of the operations panel (--remove undoes it, --list lists them)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("username", nargs="?")
        parser.add_argument("--remove", action="store_true", help="take the user out of the viewers group")
        parser.add_argument("--list", action="store_true", help="print the viewers")

    def handle(self, *args, username: str | None = None, remove: bool = False, list: bool = False, **options) -> None:
        group, _ = Group.objects.get_or_create(name=VIEWERS_GROUP)
        if list:
            names = sorted(group.user_set.values_list("username", flat=True))
            self.stdout.write("\n".join(names) if names else "No viewers.")
            return
        if not username:
            raise CommandError("Name the user: manage.py viewer <username> [--remove].")
        try:
            user = get_user_model().objects.get(username=username)
        except get_user_model().DoesNotExist:
            raise CommandError(
                f"No user {username!r}: create it first, as an ordinary account: "
                + CREATE_USER.format(username=username)
            ) from None
        if remove:
            user.groups.remove(group)
            self.stdout.write(f"{username} is no longer a viewer.")
            return
        if user.is_superuser:
            raise CommandError(f"{username} is a superuser, who can always act: a viewer must be an ordinary account.")
        user.is_staff = True  # a viewer sees the panel
        user.save(update_fields=["is_staff"])
        user.groups.add(group)
        self.stdout.write(f"{username} is a viewer: sees the operations panel, cannot act on tasks.")
