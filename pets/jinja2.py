"""The Jinja2 environment of the public page (templates/jinja2/): Django's static files and the
few filters its templates use.

The page renders a row per pet, a hundred at a time, and Django's template language spent 30 ms
of the API's CPU on them; Jinja2 compiles templates to Python and renders the same rows in a
fraction of that (`python -m bench --only short_list` measures it). The staff panel, a page a
minute, keeps Django templates.
"""

from __future__ import annotations

from django.templatetags.static import static
from jinja2 import Environment


def environment(**options: object) -> Environment:
    env = Environment(**options)  # type: ignore[arg-type]  # Django passes the backend's options through
    env.globals["static"] = static
    return env
