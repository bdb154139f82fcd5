"""The message catalog: every key in both languages with the same placeholders, and every key the scripts use exists."""
from __future__ import annotations

import re
import string
from pathlib import Path

import pytest

from layers.registry import REGISTRY
from webmap import catalog

JS = Path(catalog.__file__).resolve().parent / "static" / "js"
# t("key") and t("key", {...}) in the page scripts; label("prefix", value) uses keys "prefix.<value>".
USED = re.compile(r"""\bt\(\s*["']([\w.]+)["']""")
PREFIX = re.compile(r"""\blabel\(\s*["']([\w.]+)["']""")


def placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_every_message_has_chinese_and_english_with_the_same_placeholders():
    for key, texts in catalog.entries().items():
        assert set(texts) == set(catalog.LANGS), key
        assert all(texts[lang].strip() for lang in catalog.LANGS), key
        assert placeholders(texts["zh"]) == placeholders(texts["en"]), key


def test_no_placeholder_is_named_like_a_parameter_of_t():
    clashes = sorted(key for key, texts in catalog.entries().items() if placeholders(texts["en"]) & {"key", "lang"})
    assert not clashes, "t(key, lang, **values) could not fill them"


def test_every_key_the_page_scripts_use_is_in_the_catalog():
    used = {(path.name, key) for path in JS.rglob("*.js") for key in USED.findall(path.read_text(encoding="utf-8"))}
    assert used, "the scripts use the catalog"
    missing = sorted(f"{name}: {key}" for name, key in used if not catalog.has(key))
    assert not missing


def test_every_prefix_the_scripts_label_by_has_messages():
    prefixes = {p for path in JS.rglob("*.js") for p in PREFIX.findall(path.read_text(encoding="utf-8"))}
    assert all(catalog.messages("zh", prefix + ".") for prefix in prefixes), prefixes


def test_every_layer_and_every_property_a_popup_shows_has_its_name_in_the_catalog():
    for spec in REGISTRY.values():
        assert catalog.has(f"layer.{spec.name}"), spec.name
        names = set(spec.properties) | set(spec.aggregate.measures if spec.aggregate else ())
        missing = sorted(name for name in names if not catalog.has(f"field.{name}"))
        assert not missing, spec.name


def test_chinese_is_the_default_and_english_is_available():
    assert catalog.t("status.in_progress") == "处置中"
    assert catalog.t("status.in_progress", "en") == "In progress"
    assert catalog.t("unit.m", "en", n=12) == "12 m"


@pytest.mark.parametrize(("preferred", "accept", "lang"), [
    (None, None, "zh"),
    (None, "en-GB,en;q=0.9", "en"),
    (None, "fr-FR, en;q=0.5, zh-CN;q=0.8", "zh"),
    (None, "fr, de", "zh"),
    ("en", "zh-CN", "en"),
    ("xx", "en", "en"),
    (None, "en;q=0, fr", "zh"),
    (None, "en;q=bad, zh;q=0.1", "zh"),
])
def test_the_language_is_the_users_choice_then_the_browsers_then_chinese(preferred, accept, lang):
    assert catalog.choose_lang(preferred, accept) == lang


def test_an_unknown_key_is_a_bug_not_a_raw_key_on_a_page():
    with pytest.raises(KeyError):
        catalog.t("no.such.key")
