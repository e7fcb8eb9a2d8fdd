"""gunicorn settings for every way the API is served: the image, compose, `make run` and the tests.

gunicorn reads this file from the working directory; command-line flags override it (the image
binds 0.0.0.0, the tests a free port). See pets_project/gunicorn_worker.py for why the workers are ASGI.
"""

import os
import shutil
import sys
import tempfile
from pathlib import Path

# gunicorn runs this file before any --chdir, from wherever it was started: find the project.
sys.path.insert(0, str(Path(__file__).resolve().parent))
from infra.environment import Environment  # noqa: E402

env = Environment()  # a bad value stops gunicorn with an error naming the variable
wsgi_app = "pets_project.asgi:application"
worker_class = "pets_project.gunicorn_worker.ApiWorker"
bind = [f"{env.text('API_HOST', '127.0.0.1')}:{env.integer('API_PORT', 8000, minimum=1)}"]
# WEB_CONCURRENCY (gunicorn's own variable) sets the number of worker processes.
workers = env.integer("WEB_CONCURRENCY", 2, minimum=1)
graceful_timeout = 20
keepalive = 5
accesslog = "-"
control_socket_disable = True  # several gunicorns on one host must not share $HOME/.gunicorn/gunicorn.ctl


# Prometheus counts (pets/metrics.py): each worker process writes its own in this directory, and a
# scrape adds them up. It starts empty, a worker that exits is marked dead, and a directory made
# here (none was given; a blank value, as .env.example has, counts as none) goes when gunicorn does.
_made_metrics_dir = not env.text("PROMETHEUS_MULTIPROC_DIR")
if _made_metrics_dir:  # prometheus_client reads it from the environment, in every worker
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="petapp-metrics-")


def on_starting(server) -> None:  # noqa: ANN001 (gunicorn's hook signature)
    directory = os.environ["PROMETHEUS_MULTIPROC_DIR"]
    shutil.rmtree(directory, ignore_errors=True)
    os.makedirs(directory, exist_ok=True)


def on_exit(server) -> None:  # noqa: ANN001
    if _made_metrics_dir:
        shutil.rmtree(os.environ["PROMETHEUS_MULTIPROC_DIR"], ignore_errors=True)


def child_exit(server, worker) -> None:  # noqa: ANN001
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)
