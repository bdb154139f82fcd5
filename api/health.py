"""Liveness and readiness: /healthz checks the database and PostGIS."""
from __future__ import annotations

from flask import Blueprint, jsonify

from api import db
from gis.core.db import check_postgis

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    """200 with the PostGIS version when the database answers; 503 problem+json otherwise."""
    version = check_postgis(db.engine())
    return jsonify(status="ok", database="ok", postgis=version)
