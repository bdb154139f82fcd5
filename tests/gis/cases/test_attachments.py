"""A photo's flags: far beyond PHOTO_FAR_M, older than PHOTO_OLD_H before the report, in the future, or timeless."""
from __future__ import annotations

import datetime as dt

import pytest

from gis.cases.attachments import photo_flags
from gis.cases.photos import PhotoLimits

REPORTED = dt.datetime(2026, 12, 7, 10, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))
NOW = REPORTED + dt.timedelta(hours=3)
LIMITS = PhotoLimits(far_m=500, old_h=24)


@pytest.mark.parametrize("taken, distance, flags", [
    (REPORTED - dt.timedelta(hours=1), 20.0, []),
    (REPORTED - dt.timedelta(hours=1), None, []),  # no GPS: nothing to say about the distance
    (REPORTED - dt.timedelta(hours=1), 500.0, []),  # at the limit is not beyond it
    (REPORTED - dt.timedelta(hours=1), 500.5, ["far"]),
    (REPORTED - dt.timedelta(hours=24), 20.0, []),
    (REPORTED - dt.timedelta(hours=24, minutes=1), 20.0, ["old"]),
    (REPORTED - dt.timedelta(days=6), 2100.0, ["far", "old"]),
    (NOW + dt.timedelta(minutes=4), 20.0, []),  # a phone's clock a little ahead
    (NOW + dt.timedelta(hours=1), 20.0, ["future"]),
    (None, 20.0, ["no_exif_time"]),
])
def test_a_photo_is_flagged_by_the_configured_limits(taken, distance, flags):
    assert photo_flags(taken, distance, reported_at=REPORTED, now=NOW, limits=LIMITS) == flags


def test_the_limits_are_configurable():
    taken = REPORTED - dt.timedelta(hours=30)
    assert photo_flags(taken, 800.0, reported_at=REPORTED, now=NOW, limits=PhotoLimits(far_m=1000, old_h=48)) == []
