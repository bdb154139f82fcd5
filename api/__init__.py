"""The web API and pages: the only package that imports Flask. `create_app` builds the app (api/app.py)."""
from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flask import Flask


def create_app(test_config: dict | None = None) -> Flask:
    """Build the app (api.app.create_app); configuration is read there and nowhere else."""
    # deferred: the app's modules load Flask, SQLAlchemy, layers and pages (~1 s); `gridgov …` imports this package
    from api.app import create_app as build

    return build(test_config)
