"""In-process tests: Django set up once in the test process, against the session's Redis and
database (the same real servers the end-to-end tests use; no mocks)."""

from __future__ import annotations

import os
import secrets

import pytest


@pytest.fixture(scope="session")
def django_ready(tmp_path_factory, redis_server, mongo_uri):
    """Django configured for the session's servers, its SQLite migrated, the Mongo indexes made.

    Its variables are only ever read by this process: tests.support.processes.base_env drops them from
    every process a test starts.
    """
    work = tmp_path_factory.mktemp("in-process")
    os.environ.update(
        DJANGO_SETTINGS_MODULE="pets_project.settings",
        DJANGO_DEBUG="false",
        DJANGO_ALLOWED_HOSTS="testserver",  # the host name of Django's test client
        DJANGO_SECRET_KEY=secrets.token_urlsafe(50),
        DJANGO_SQLITE_PATH=str(work / "db.sqlite3"),
        DJANGO_LOG_LEVEL="warning",
        MONGODB_URI=mongo_uri,
        MONGODB_TIMEOUT_MS="1500",
        REDIS_URL=redis_server.url,
        PROCESSED_DIR=str(work / "processed_data"),
    )
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)
    call_command("ensure_indexes", verbosity=0)
    from pets import pagination

    yield
    pagination._learned_windows.clear()


@pytest.fixture
def pets_db(django_ready, pets_collection, redis_server):
    """An empty pets collection, results collection and Redis (tests/conftest.py _clean_state)."""
    from pets import pagination

    pagination._learned_windows.clear()  # learned from pets an earlier test deleted
    return pets_collection


@pytest.fixture
def client(django_ready):
    from rest_framework.test import APIClient

    return APIClient()
