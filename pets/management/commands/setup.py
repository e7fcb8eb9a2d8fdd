"""One-off setup before the API serves: migrate Django's database, create the first admin, create
the MongoDB indexes. Idempotent.

A single API (make run, compose) runs it from its entrypoint; with several replicas it runs once,
as its own step (the Kubernetes Job in deploy/k8s/, API_RUN_SETUP=false on the replicas), so the
replicas never race each other's migrations.
"""

from django.core.management import call_command
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Migrate, create the admin user and the MongoDB indexes (what the API needs before it serves)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--wait", type=float, default=60, help="seconds to wait for MongoDB")

    def handle(self, *args, wait: float = 60, **options) -> None:
        call_command("migrate", interactive=False, verbosity=options.get("verbosity", 1))
        call_command("ensure_admin")
        call_command("ensure_indexes", wait=wait)
