"""The message catalog: every text a person reads, in Chinese (the default) and English.

The catalog is the JSON files under webmap/messages/, one per area of the house (common, worker,
problems, cli…), each mapping a key to {"zh": …, "en": …}. A key lives in one file only and has
both languages (tests/webmap/test_catalog.py checks it, and that every key the pages' scripts use
exists). Texts may hold {name} placeholders, filled by `t(key, lang, name=…)`.
"""
from __future__ import annotations

import functools
import json
from pathlib import Path

LANGS = ("zh", "en")
DEFAULT_LANG = "zh"
FOLDER = Path(__file__).resolve().parent / "messages"


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
