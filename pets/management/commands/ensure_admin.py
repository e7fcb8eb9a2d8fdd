"""Create the first admin from DJANGO_SUPERUSER_USERNAME/_PASSWORD, once.

Idempotent: an existing user is left as it is (its password is never reset), so this runs at
every start of `make run` and of the API container.
"""

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Create the admin user from the DJANGO_SUPERUSER_* settings if it does not exist."

    def handle(self, *args, **options) -> None:
        username, password = settings.SUPERUSER_USERNAME, settings.SUPERUSER_PASSWORD
        if not username or not password:
            self.stdout.write(
                "No DJANGO_SUPERUSER_USERNAME/DJANGO_SUPERUSER_PASSWORD given: no admin created "
                "(run `python manage.py createsuperuser`)."
            )
            return
        User = get_user_model()
        if User.objects.filter(username=username).exists():
            self.stdout.write(f"Admin user '{username}' already exists.")
            return
        User.objects.create_superuser(username=username, email=settings.SUPERUSER_EMAIL, password=password)
        self.stdout.write(self.style.SUCCESS(f"Created admin user '{username}'."))
