"""The Jinja2 environment shared by every page.

Templates live in ``pressline/site/templates``; a site may override any of them by
putting a file of the same name in the directory named by ``PRESSLINE_TEMPLATES``.
Autoescaping is always on: titles, tags, summaries and names are escaped wherever
they appear; only sanitized post bodies are marked safe, explicitly.
"""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path
from typing import Any

import jinja2

TEMPLATES = Path(__file__).parent / "templates"


@cache
def environment() -> jinja2.Environment:
    search = [str(TEMPLATES)]
    override = os.environ.get("PRESSLINE_TEMPLATES")
    if override:
        search.insert(0, override)
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(search),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
        # Templates do not change while a function runs: skip the mtime check (one stat
        # per template and include) that every render would otherwise pay.
        auto_reload=False,
        # The templates are a small fixed set: a plain dict instead of the default 400-entry LRU
        # (a lock and a reordering on every lookup; each page looks up three or four templates).
        cache_size=-1,
    )
    return env


def render(template: str, **context: Any) -> str:
    return environment().get_template(template).render(**context)
