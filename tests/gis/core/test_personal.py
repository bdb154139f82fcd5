"""Masking phone and ID numbers in free text, in Python and in SQL alike; the declaration's own rules."""
from __future__ import annotations

import pytest
from sqlalchemy import text

from gis.core import personal
from gis.spatial.codes import building_code, grid_code

# (free text, what a reader without personal-data access gets). Hand-built, not derived from the regexes.
MASKED = [
    ("联系电话13812345678，请尽快处理", "联系电话138****5678，请尽快处理"),
    ("电话 138 1234 5678 王女士", "电话 138****5678 王女士"),
    ("手机138-1234-5678。", "手机138****5678。"),
    ("+86 19912345678", "+86 199****5678"),
    ("座机010-62345678转分机", "座机010-****5678转分机"),
    ("座机 0571 8765 4321", "座机 0571-****4321"),
    ("身份证110101199003071234是他的", "身份证1101**********1234是他的"),
    ("身份证号：11010119900307123X", "身份证号：1101**********123X"),
    ("两个号码13800000000和13912345678", "两个号码138****0000和139****5678"),
]
# Numbers that are not personal and must come back unchanged.
KEPT = [
    f"网格{grid_code('310101001001', 7)}内",  # a 15-digit grid code
    f"楼栋 {building_code('310101001001007', 12)}",  # a 20-digit building code
    "2026-12-02 18:56:25",  # a timestamp
    "20261202185625",  # a compact timestamp (14 digits)
    "1733165785123",  # epoch milliseconds (13 digits)
    "工单号 202612021234567890",  # 18 digits, but no birth date where an ID has one
    "1234567890123456789",  # 19 digits: no ID number is that long
    "金额 0.0123456789",  # a decimal, not a landline
    "12345 热线",  # the hotline
    "138123456789",  # 12 digits: no mobile number is that long
]


@pytest.mark.parametrize("raw, masked", MASKED)
def test_phone_and_id_numbers_in_text_are_masked(raw, masked):
    assert personal.mask_text(raw) == masked


@pytest.mark.parametrize("raw", KEPT)
def test_grid_codes_building_codes_and_timestamps_are_not_masked(raw):
    assert personal.mask_text(raw) == raw


def test_the_sql_function_masks_exactly_as_python_does(session):
    for raw in [r for r, _ in MASKED] + KEPT:
        in_sql = session.execute(text("SELECT gridgov_mask_personal(:t)"), {"t": raw}).scalar()
        assert in_sql == personal.mask_text(raw), raw


def test_staff_read_text_unmasked_and_others_masked():
    raw = MASKED[0][0]
    assert personal.text_for("commander", raw) == raw and personal.text_for("admin", raw) == raw
    for role in ("worker", "planner", "viewer", None):
        assert personal.text_for(role, raw) == MASKED[0][1]


def test_a_declaration_refuses_layers_unknown_kinds_and_plain_id_numbers():
    with pytest.raises(ValueError, match="never a layer"):
        personal.PersonalField("residents", "phone", "phone", outputs=("layer",))
    with pytest.raises(ValueError, match="kind"):
        personal.PersonalField("residents", "email", "email")
    with pytest.raises(ValueError, match="encrypted"):
        personal.PersonalField("residents", "id_number", "id_number")
    assert personal.may_read(None, "events", "title") and not personal.may_read("worker", "events", "contact")
