"""pets/heartbeat_file.py: the relay's liveness file and the check a container runs against it."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from pets.heartbeat_file import beat, staleness
from tests.support.processes import ROOT


def check(path, max_age: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pets.heartbeat_file", str(path), max_age], cwd=ROOT, capture_output=True, text=True
    )


def test_a_fresh_beat_passes_and_an_old_one_fails_with_its_age(tmp_path):
    path = tmp_path / "relay.alive"
    beat(path)
    assert staleness(path, 30) is None
    assert check(path, "30").returncode == 0
    an_hour_ago = time.time() - 3600
    os.utime(path, (an_hour_ago, an_hour_ago))
    result = check(path, "30")
    assert result.returncode == 1
    assert "is 3600s old (more than 30s): the loop is stuck or stopped" in result.stderr
    beat(path)  # the next round makes it current again
    assert check(path, "30").returncode == 0


def test_a_missing_file_or_bad_arguments_are_said_plainly(tmp_path):
    missing = check(tmp_path / "none", "30")
    assert missing.returncode == 1
    assert "does not exist: the loop has not gone round yet" in missing.stderr
    bad = check(tmp_path / "none", "soon")
    assert bad.returncode == 2
    assert "MAX_AGE_SECONDS must be a number, not 'soon'" in bad.stderr
    assert "Traceback" not in missing.stderr + bad.stderr
