"""Where things are, for every test module wherever it sits under tests/."""
from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]  # the checkout: pyproject.toml, gis/, tests/, …
