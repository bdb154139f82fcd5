"""The residents' channel (社区通 在线报修): the public report page, a report's tracking page, and the
residents' way into Open311's POST (no account, a limit per client address and hour)."""
from __future__ import annotations

import functools

from flask import Blueprint, current_app, g, redirect, request, url_for

from api import db
from api.auth import GUARD_ATTR, csrf_token, current_user, requires
from api.lang import messages, request_lang
from gis.cases import open311, residents
from gis.core import audit
from gis.core.clock import zone_of
from gis.core.errors import InvalidInput, NotFound
from gis.spatial.areas import district_bounds
from webmap.render import render

bp = Blueprint("residents", __name__)


def staff_or_residents(*roles: str):
    """Guard a write: a signed-in user of `roles`, or — with no credentials at all — a resident, within the limit."""

    def decorate(view):
        guarded = requires(*roles)(view)

        @functools.wraps(view)
        def entry(*args, **kwargs):
            config = current_app.config
            if current_user() is not None or request.headers.get("Authorization") or not config["RESIDENT_REPORTS"]:
                return guarded(*args, **kwargs)
            session = db.session()
            residents.check_rate(session, audit.current_origin().address, int(config["RESIDENT_REPORTS_PER_HOUR"]))
            user = residents.residents_user(session)
            g.user, g.auth_via = user, "resident"
            audit.identify(user_id=user.id, actor=user.name, via="resident")
            return view(*args, **kwargs)

        setattr(entry, GUARD_ATTR, roles)
        return entry

    return decorate


def is_resident() -> bool:
    """Whether this request came through the residents' channel."""
    return g.get("auth_via") == "resident"


@bp.get("/report")
def report_page():
    """The public report page: no account, a photo, a place, a tracking number."""
    session = db.session()
    user = current_user()
    lang = request_lang(user)
    config = {"csrf": csrf_token() if user is not None else None,  # staff trying the page report as themselves
              "lang": lang, "messages": {**messages(lang, "resident."), **messages(lang, "photo.")},
              "time_zone": zone_of(session).key, "services": open311.services(session),
              "bounds": district_bounds(session), "areas": url_for("layers.layer_features", name="communities"),
              "endpoints": {"report": url_for("open311.create_request", fmt="json")}}
    return render("resident.html", lang=lang, config=config)


@bp.get("/report/track")
def track_form():
    """The tracking form's answer: on to the report's page."""
    raw = (request.args.get("id") or "").strip().lstrip("#")
    if not raw.isdigit() or len(raw) > 18:
        raise InvalidInput("Invalid tracking number", "A tracking number is the number you received, e.g. 20001.",
                           parameter="id")
    return redirect(url_for("residents.track", request_id=int(raw)))


@bp.get("/report/<int(max=9223372036854775807):request_id>")
def track(request_id: int):
    """What a resident may follow of one report: its public status, reply and times."""
    session = db.session()
    try:
        found = open311.get_request(session, request_id, staff=False)
    except NotFound:
        raise NotFound("No such report", f"No report {request_id} can be followed here; check the number.") from None
    return render("resident_track.html", lang=request_lang(current_user()), r=found)
