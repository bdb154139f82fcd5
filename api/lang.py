"""The language of a request: the signed-in user's own choice, else the browser's Accept-Language, else Chinese."""
from __future__ import annotations

from flask import request

from webmap.catalog import choose_lang, messages, t


def request_lang(user=None) -> str:
    """zh or en for this request (`user` may carry a `lang` preference)."""
    return choose_lang(getattr(user, "lang", None), request.headers.get("Accept-Language") if request else None)


def tr(key: str, user=None, **values) -> str:
    """`key` in this request's language."""
    return t(key, request_lang(user), **values)


__all__ = ["messages", "request_lang", "tr"]
