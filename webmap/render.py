"""The HTML pages that are not maps (sign-in, OGC API, case panel, to-do list) from Jinja templates, autoescaped."""
from __future__ import annotations

from pathlib import Path

import jinja2


def when(iso: str | None) -> str:
    """A time as pages show it, the ISO text's own date and minute (the API's district offset): 2026-12-02 14:30."""
    return iso[:16].replace("T", " ") if iso else "—"


# Every value is escaped unless a template says otherwise; a name a template misspells raises.
ENV = jinja2.Environment(loader=jinja2.FileSystemLoader(Path(__file__).resolve().parent / "templates"),
                         autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
ENV.filters["when"] = when


def render(template: str, **context) -> str:
    """webmap/templates/<template> filled with `context`."""
    return ENV.get_template(template).render(**context)
