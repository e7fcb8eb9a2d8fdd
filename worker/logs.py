"""Log lines as operators grep them: `[2026-02-03 13:49:40] [Consumer-1] [INFO] message`."""

from __future__ import annotations

import logging
import sys

SUCCESS = 25
logging.addLevelName(SUCCESS, "SUCCESS")


def configure_logging(consumer_name: str, level: int = logging.INFO) -> None:
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(
        logging.Formatter(f"[%(asctime)s] [{consumer_name}] [%(levelname)s] %(message)s", "%Y-%m-%d %H:%M:%S")
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Nothing in the format above needs where a line was logged from, or by which thread or
    # process: the logging HOWTO's "Optimization" section turns collecting those off this way.
    # A consumer logs four lines per task, and finding the caller alone was 4 % of its CPU.
    logging._srcfile = None
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    # urllib3 logs every connection at DEBUG/INFO; keep the worker's own lines readable.
    logging.getLogger("urllib3").setLevel(logging.WARNING)
