"""docs/architecture.md names files, functions, Redis keys, commands and settings: each must exist,
so the page a newcomer reads first cannot drift from the code unnoticed."""

from __future__ import annotations

import re

from tests.support.processes import ROOT

PAGE = (ROOT / "docs" / "architecture.md").read_text()
PACKAGES = ("contracts", "infra", "queue_tools", "pets", "ops", "pets_project", "worker", "bench")
SOURCES = [ROOT / "consumer.py", ROOT / "manage.py"] + [path for p in PACKAGES for path in (ROOT / p).rglob("*.py")]
CODE = "\n".join(path.read_text() for path in SOURCES)
QUOTED = re.findall(r"`([^`\n]+)`", PAGE)


def located(name: str):
    """A path from the project's root, or a file named inside a folder the row names (`pets/`:
    `views.py`): None when neither exists."""
    if (ROOT / name).exists():
        return ROOT / name
    return next(iter(sorted(ROOT.glob(f"*/{name}"))), None) if "/" not in name else None


def test_every_file_it_names_exists():
    paths = [q for q in QUOTED if re.fullmatch(r"[\w./-]+\.(py|md|yml|sh)|[\w-]+/", q)]
    assert len(paths) > 30
    missing = [p for p in paths if located(p) is None]
    assert not missing, missing


def test_every_name_it_gives_in_a_module_is_defined_there():
    """`module.py` (`Name`, ...) in the tables: each Name is a def, class or constant of that module."""
    checked = 0
    for module, names in re.findall(r"`([\w/]+\.py)`(?: \(|: )([^)|]*)", PAGE):
        found = located(module)
        assert found is not None, module
        source = found.read_text()
        for name in re.findall(r"`([A-Za-z_][\w]*)`", names):
            if name.isupper() or name[0].isupper() or name.islower():
                defined = re.search(rf"^\s*(def|class) {name}\b|^\s*{name}\s*[:=]|^\s*self\.{name}\b", source, re.M)
                assert defined, f"{module} defines no {name}"
                checked += 1
    assert checked > 15


def test_every_redis_key_it_names_is_used_by_the_code():
    # A placeholder (<id>, Consumer-N) or an alternative ([:high|:low]) ends at the colon before it.
    named = re.findall(r"\b(pets:[\w:<>\[\]|-]+)", PAGE)
    plain = re.compile(r"[a-z:_-]+")
    keys = {key if plain.fullmatch(key) else key[: key.rfind(":", 0, re.search(r"[<\[A-Z]", key).start()) + 1]
            for key in named}  # fmt: skip
    assert len(keys) > 10
    missing = sorted(key for key in keys if key.rstrip(":") not in CODE)
    assert not missing, missing


def test_every_command_and_setting_it_names_exists():
    for command in re.findall(r"manage\.py (\w+)", PAGE):
        assert (ROOT / "pets" / "management" / "commands" / f"{command}.py").exists(), command
    consumer = (ROOT / "consumer.py").read_text()
    for command in re.findall(r"consumer\.py (\w+)", PAGE):
        assert f'"{command}"' in consumer, command
    documented = (ROOT / ".env.example").read_text()
    for setting in re.findall(r"`([A-Z][A-Z0-9_]{3,})`", PAGE):
        assert f"{setting}=" in documented or setting in CODE, setting
