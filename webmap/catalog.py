"""The message catalog: every text a person reads, in Chinese (the default) and English.

The catalog is the JSON files under webmap/messages/, one per area of the house (common, worker,
problems, cli…), each mapping a key to {"zh": …, "en": …}. A key lives in one file only and has
both languages (tests/webmap/test_catalog.py checks it, and that every key the pages' scripts use
exists). Texts may hold {name} placeholders, filled by `t(key, lang, name=…)`.
"""
from __future__ import annotations

import functools
import json
import os
import re
from pathlib import Path

LANGS = ("zh", "en")
DEFAULT_LANG = "zh"
FOLDER = Path(__file__).resolve().parent / "messages"
PROBLEM = "problem."  # the keys of problem titles (webmap/messages/problems.json)


@functools.cache
def entries() -> dict[str, dict[str, str]]:
    """Every key with its texts by language, from all files of the catalog (a key twice raises)."""
    out: dict[str, dict[str, str]] = {}
    for path in sorted(FOLDER.glob("*.json")):
        for key, texts in json.loads(path.read_text(encoding="utf-8")).items():
            if key in out:
                raise ValueError(f"message {key!r} is in two catalog files; keep it in one ({path.name})")
            out[key] = texts
    return out


@functools.cache
def messages(lang: str = DEFAULT_LANG, prefix: str = "") -> dict[str, str]:
    """Key → text in `lang` for the keys starting with `prefix` (what a page script receives)."""
    lang = lang if lang in LANGS else DEFAULT_LANG
    return {key: texts[lang] for key, texts in entries().items() if key.startswith(prefix)}


def t(key: str, lang: str = DEFAULT_LANG, **values) -> str:
    """The text of `key` in `lang`, placeholders filled; an unknown key raises KeyError (a bug, not input)."""
    text = messages(lang)[key]
    return text.format_map(values) if values else text


def has(key: str) -> bool:
    """Whether the catalog holds `key` (for texts built from data, e.g. a status the data names)."""
    return key in entries()


def env_lang() -> str:
    """The language of the command line: GRIDGOV_LANG (zh or en), else Chinese."""
    lang = os.environ.get("GRIDGOV_LANG", "").strip().lower()
    return lang if lang in LANGS else DEFAULT_LANG


def say(key: str, **values) -> str:
    """`key` in the command line's language (what `gridgov` prints for a person)."""
    return t(key, env_lang(), **values)


def choose_lang(preferred: str | None, accept_language: str | None) -> str:
    """The user's own choice if they made one, else the first of Accept-Language we speak, else Chinese."""
    if preferred in LANGS:
        return preferred
    ranked = []
    for i, part in enumerate((accept_language or "").split(",")):
        tag, _, params = part.strip().partition(";")
        q = 1.0
        if params.strip().startswith("q="):
            try:
                q = float(params.strip()[2:])
            except ValueError:
                q = 0.0  # a weight we cannot read counts as "not wanted"
        if q <= 0:
            continue
        ranked.append((-q, i, tag.strip().lower().split("-")[0]))
    for _, _, lang in sorted(ranked):
        if lang in LANGS:
            return lang
    return DEFAULT_LANG


@functools.cache
def _problem_titles() -> tuple[dict[str, str], list[tuple[re.Pattern, str]]]:
    """English problem title → key, and the titles with placeholders ("Invalid {name}") as patterns."""
    exact: dict[str, str] = {}
    patterns = []
    for key, texts in entries().items():
        if not key.startswith(PROBLEM):
            continue
        parts = re.split(r"\{(\w+)\}", texts["en"])
        if len(parts) == 1:
            exact.setdefault(texts["en"], key)  # a domain title before the HTTP status of the same words
        else:
            regex = "".join(re.escape(p) if i % 2 == 0 else f"(?P<{p}>.+?)" for i, p in enumerate(parts))
            patterns.append((re.compile(regex), key))
    # The most literal text first: "Invalid {name}" must not take "{name} out of range".
    patterns.sort(key=lambda item: -len(re.sub(r"\(\?P<\w+>\.\+\?\)", "", item[0].pattern)))
    return exact, patterns


def problem_key(title: str) -> tuple[str, dict[str, str]] | None:
    """The catalog key of an English problem title the code raises, with its placeholder values; None if none."""
    exact, patterns = _problem_titles()
    if title in exact:
        return exact[title], {}
    for pattern, key in patterns:
        found = pattern.fullmatch(title)
        if found:
            return key, found.groupdict()
    return None


def problem_title(title: str, lang: str, status: int = 500) -> tuple[str, str]:
    """(key, text in `lang`) for an English problem title; one the catalog lacks falls back to its HTTP status."""
    key, values = problem_key(title) or (f"{PROBLEM}http_{status}", {})
    if not has(key):
        key = f"{PROBLEM}http_500"
    return key, t(key, lang, **values)


def problem_text(problem: dict, lang: str) -> str:
    """A grid problem's sentence in `lang` from its rule and figures; its English detail for an unknown rule."""
    key = f"rule.{problem.get('rule')}"
    if not has(key):
        return problem.get("detail") or ""
    area = problem.get("area_m2") or 0.0
    values = {"hi": "", "lo": "", "households": "", "parts": ""} | (problem.get("values") or {})
    values = {k: f"{v:,.0f}" if isinstance(v, int | float) else v for k, v in values.items()}
    return t(key, lang, grid=problem.get("grid") or "—", other=problem.get("other") or "—",
             area=f"{area:,.1f} m²" if area < 1e6 else f"{area / 1e6:,.3f} km²", **values)
