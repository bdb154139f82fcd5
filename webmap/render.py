"""The HTML pages that are not maps (sign-in, OGC API, case panel, to-do list) from Jinja templates, autoescaped."""
from __future__ import annotations

import functools
from pathlib import Path

import jinja2

from webmap import catalog


def when(iso: str | None) -> str:
    """A time as pages show it, the ISO text's own date and minute (the API's district offset): 2026-12-02 14:30."""
    return iso[:16].replace("T", " ") if iso else "—"


# Every value is escaped unless a template says otherwise; a name a template misspells raises.
ENV = jinja2.Environment(loader=jinja2.FileSystemLoader(Path(__file__).resolve().parent / "templates"),
                         autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
ENV.filters["when"] = when


def label(prefix: str, value, lang: str = catalog.DEFAULT_LANG) -> str:
    """The catalog's text for a value the data names (status.closed), or the value itself when there is none."""
    key = f"{prefix}.{value}"
    return catalog.t(key, lang) if catalog.has(key) else ("—" if value is None else str(value))


def render(template: str, lang: str = catalog.DEFAULT_LANG, **context) -> str:
    """webmap/templates/<template> filled with `context`; `t(key, **values)` and `label(prefix, value)` speak `lang`."""
    return ENV.get_template(template).render(lang=lang, t=functools.partial(catalog.t, lang=lang),
                                             label=functools.partial(label, lang=lang), **context)
