"""The district's settings (time zone, working hours, escalation, …): shipped defaults under stored values."""
from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from gis.core.models import WorkflowSetting

DEFAULTS_FILE = Path(__file__).resolve().parents[2] / "data" / "workflow_settings.json"


@cache
def _defaults_text() -> str:
    return DEFAULTS_FILE.read_text(encoding="utf-8")


def default_settings() -> dict[str, Any]:
    """The shipped defaults (data/workflow_settings.json), a fresh copy each call."""
    return json.loads(_defaults_text())


def get_settings(session: Session) -> dict[str, Any]:
    """Settings: the stored values over the shipped defaults."""
    settings = default_settings()
    settings.update({k: v for k, v in session.execute(select(WorkflowSetting.key, WorkflowSetting.value))})
    return settings
