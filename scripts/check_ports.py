"""Before `make run` starts anything: is each port it needs free? Say which is taken, by what,
and which variable moves it.

    python scripts/check_ports.py API_PORT=8000 DEV_MONGO_PORT=27017
"""

from __future__ import annotations

import os
import socket
import sys
from pathlib import Path


def listening_inodes(port: int) -> set[str]:
    """Socket inodes listening on `port`, from the kernel's tables (/proc/net/tcp, tcp6)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            # local address "ADDR:PORT" in hex; state 0A is LISTEN; the inode is the tenth field
            if len(fields) > 9 and fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(fields[9])
    return inodes


def holder(port: int) -> str | None:
    """The process listening on `port`, as `name (pid N)`, read from /proc (no `ss` or `lsof`
    needed). None when the kernel does not say: another user's process, or no /proc."""
    inodes = listening_inodes(port)
    if not inodes:
        return None
    sockets = {f"socket:[{inode}]" for inode in inodes}
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            for fd in (proc / "fd").iterdir():
                if os.readlink(fd) in sockets:
                    name = (proc / "comm").read_text().strip()
                    return f"{name} (pid {proc.name})"
        except OSError:  # gone meanwhile, or not ours to read
            continue
    return None


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
            f"make run: port {port} ({variable}) is already in use by {by or 'a process this user cannot see'}.\n"
            f"  Stop that process, or pick another port: {variable}={port + 1} make run",
            file=sys.stderr,
        )
    return 1 if taken else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
