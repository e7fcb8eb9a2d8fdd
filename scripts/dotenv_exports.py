"""Print `export NAME=value` lines for a `.env` file, for a shell to `eval`.

`.env` is read as data with python-dotenv (KEY=value, quotes, comments, `export` prefixes), never
run as shell code, so `WIKIPEDIA_USER_AGENT=Pets/1.0 (https://...; ops@...)` is just a value.
The environment wins: a variable set (non-empty) in the environment is not exported again, and an
empty value in the file means "unset", never "empty".
"""

from __future__ import annotations

import os
import re
import shlex
import sys

from dotenv import dotenv_values

NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def exports(path: str, environ: dict[str, str]) -> list[str]:
    lines = []
    for name, value in dotenv_values(path, interpolate=False).items():
        if not NAME.fullmatch(name) or not value or environ.get(name):
            continue
        lines.append(f"export {name}={shlex.quote(value)}")
    return lines


if __name__ == "__main__":
    path = sys.argv[1] if len(sys.argv) > 1 else ".env"
    if os.path.exists(path):
        print("\n".join(exports(path, dict(os.environ))))
