"""Users API: who am I, and admins adding users."""
from __future__ import annotations

from flask import Blueprint, jsonify

from api import db
from api.auth import current_user, requires
from api.params import json_body
from gis.core.users import create_user, user_grid_codes

bp = Blueprint("users", __name__, url_prefix="/api/v1")


@bp.get("/me")
@requires("admin", "planner", "commander", "worker", "viewer")
def me():
    """The signed-in user, their role and grid scope."""
    user = current_user()
    return jsonify(name=user.name, display_name=user.display_name, role=user.role,
                   grids=user_grid_codes(db.session(), user.id))


@bp.post("/users")
@requires("admin")
def add_user():
    """Create a user; the token is in the response once and never again."""
    body = json_body()
    session = db.session()
    user, token = create_user(session, body.get("name", ""), body.get("role", ""),
                              grids=body.get("grids") or [], password=body.get("password"),
                              display_name=body.get("display_name"))
    session.commit()
    return jsonify(name=user.name, role=user.role, grids=user_grid_codes(session, user.id),
                   token=token), 201
