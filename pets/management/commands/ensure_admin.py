"""Create the first admin from DJANGO_SUPERUSER_USERNAME/_PASSWORD, once.

Idempotent, and it runs at every start of `make run` and of the API container: an existing user
is left as it is, so a password changed later (in the admin, say) is never put back by a restart.
`--reset-password` is the one way to apply a changed DJANGO_SUPERUSER_PASSWORD to that user.
"""

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

CREATE_ONE = (
    "To make one: set DJANGO_SUPERUSER_PASSWORD (with docker compose: in .env, then `docker compose up -d`), "
    "or run `DJANGO_SUPERUSER_PASSWORD=... python manage.py createsuperuser --noinput --username admin "
    "--email admin@example.com` (with docker compose: `docker compose exec -e DJANGO_SUPERUSER_PASSWORD=... "
    "django-api python manage.py createsuperuser --noinput --username admin --email admin@example.com`)."
)


class Command(BaseCommand):
    help = "Create the admin user from the DJANGO_SUPERUSER_* settings if it does not exist."

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--reset-password",
            action="store_true",
            help="set an existing admin's password to DJANGO_SUPERUSER_PASSWORD",
        )

    def handle(self, *args, reset_password: bool = False, **options) -> None:
        username, password = settings.SUPERUSER_USERNAME, settings.SUPERUSER_PASSWORD
        User = get_user_model()
        if not username or not password:
            if reset_password:
                raise CommandError("--reset-password needs DJANGO_SUPERUSER_USERNAME and DJANGO_SUPERUSER_PASSWORD.")
            admins = sorted(User.objects.filter(is_superuser=True).values_list("username", flat=True))
            if admins:
                self.stdout.write(f"No DJANGO_SUPERUSER_PASSWORD given; admin users: {', '.join(admins)}.")
            else:
                self.stderr.write(f"No admin user exists, and DJANGO_SUPERUSER_PASSWORD is not set. {CREATE_ONE}")
            return
        user = User.objects.filter(username=username).first()
        if user is None:
            User.objects.create_superuser(username=username, email=settings.SUPERUSER_EMAIL, password=password)
            self.stdout.write(self.style.SUCCESS(f"Created admin user '{username}'."))
        elif reset_password:
            user.set_password(password)
            user.save(update_fields=["password"])
            self.stdout.write(self.style.SUCCESS(f"Password of '{username}' set from DJANGO_SUPERUSER_PASSWORD."))
        else:
            self.stdout.write(
                f"Admin user '{username}' already exists (its password is left as it is; "
                "`manage.py ensure_admin --reset-password` applies DJANGO_SUPERUSER_PASSWORD)."
            )
