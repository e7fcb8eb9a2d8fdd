"""`manage.py ensure_admin` (run by `make run` and at every API container start) and the README's
non-interactive way to make an admin (`createsuperuser --noinput`, as `docker compose exec -e ...`)."""

from __future__ import annotations

import io

import pytest


@pytest.fixture
def admin_command(django_ready):
    """ensure_admin with the DJANGO_SUPERUSER_* settings given, and what it printed."""
    from django.core.management import call_command
    from django.test import override_settings

    def run(*args: str, username: str = "", password: str = "") -> tuple[str, str]:
        out, err = io.StringIO(), io.StringIO()
        with override_settings(SUPERUSER_USERNAME=username, SUPERUSER_PASSWORD=password):
            call_command("ensure_admin", *args, stdout=out, stderr=err)
        return out.getvalue(), err.getvalue()

    return run


def test_the_admin_is_made_once_says_how_when_it_cannot_and_keeps_its_password(admin_command, monkeypatch):
    from django.contrib.auth import get_user_model
    from django.core.management import CommandError, call_command
    from django.db import transaction

    users = get_user_model()
    with transaction.atomic():  # whatever other tests left is back afterwards
        users.objects.filter(is_superuser=True).delete()
        out, err = admin_command()
        assert "No admin user exists, and DJANGO_SUPERUSER_PASSWORD is not set" in err
        assert (
            "docker compose exec -e DJANGO_SUPERUSER_PASSWORD=... django-api python manage.py createsuperuser "
            "--noinput --username admin --email admin@example.com" in err
        )

        # The README's way, without a prompt.
        monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "first-pass-1")
        call_command("createsuperuser", interactive=False, username="admin", email="admin@example.com", verbosity=0)
        assert users.objects.get(username="admin").check_password("first-pass-1")

        out, _ = admin_command(username="admin", password="second-pass-2")
        assert "already exists (its password is left as it is" in out
        assert users.objects.get(username="admin").check_password("first-pass-1")  # a restart changes nothing

        out, _ = admin_command("--reset-password", username="admin", password="second-pass-2")
        assert "Password of 'admin' set from DJANGO_SUPERUSER_PASSWORD" in out
        assert users.objects.get(username="admin").check_password("second-pass-2")

        out, err = admin_command()
        assert "admin users: admin" in out and err == ""
        with pytest.raises(CommandError, match="--reset-password needs DJANGO_SUPERUSER_USERNAME"):
            admin_command("--reset-password")
        transaction.set_rollback(True)
    assert not users.objects.filter(username="admin").exists()


def test_a_missing_admin_is_created_from_the_settings(admin_command):
    from django.contrib.auth import get_user_model

    users = get_user_model()
    users.objects.filter(username="made-at-start").delete()
    out, _ = admin_command(username="made-at-start", password="start-pass-3")
    assert "Created admin user 'made-at-start'." in out
    made = users.objects.get(username="made-at-start")
    assert made.is_superuser and made.check_password("start-pass-3")
    made.delete()
