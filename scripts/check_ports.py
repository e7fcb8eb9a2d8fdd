"""Before `make run` starts anything: is each port it needs free? Say which is taken, by what,
and which variable moves it.

    python scripts/check_ports.py API_PORT=8000 DEV_MONGO_PORT=27017
"""

from __future__ import annotations

import re
import socket
import subprocess
import sys


def holder(port: int) -> str | None:
    """The process listening on `port`, as `name (pid N)`, when `ss` can tell."""
    try:
        out = subprocess.run(
            ["ss", "-H", "-ltnp", f"sport = :{port}"], capture_output=True, text=True, timeout=5
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    found = re.search(r'users:\(\("([^"]+)",pid=(\d+)', out)
    return f"{found.group(1)} (pid {found.group(2)})" if found else None


def port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # As the servers do: connections of a process that just stopped (TIME_WAIT) do not count.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def main(pairs: list[str]) -> int:
    taken = 0
    for pair in pairs:
        variable, _, value = pair.partition("=")
        port = int(value)
        if port_is_free(port):
            continue
        taken += 1
        by = holder(port)
        print(
            f"make run: port {port} ({variable}) is already in use{' by ' + by if by else ''}.\n"
            f"  Stop that process, or pick another port: {variable}={port + 1} make run",
            file=sys.stderr,
        )
    return 1 if taken else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
