"""requirements.lock pins what pyproject.toml asks for, and the running environment was installed from it."""
from __future__ import annotations

import re
import tomllib
from importlib import metadata

from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from tests.paths import ROOT

LOCK = ROOT / "requirements.lock"
PYPROJECT = ROOT / "pyproject.toml"

# What scripts/setup.sh may pick (python3.13, 3.12, 3.11; Debian 12 has 3.11) on either CPU family.
TARGETS = [(minor, machine) for minor in (11, 12, 13) for machine in ("x86_64", "aarch64")]
HASH = re.compile(r"sha256:[0-9a-f]{64}")


def parse_lock(text: str) -> list[tuple[Requirement, list[str]]]:
    """Each entry of a requirements lock: its requirement (name==version ; marker) and its hashes."""
    entries = []
    for line in text.replace("\\\n", " ").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        requirement, *hashes = re.split(r"\s+--hash=", line)
        if requirement.startswith("-"):
            raise ValueError(f"the lock holds an option, not a pinned requirement: {line[:80]}")
        entries.append((Requirement(requirement), hashes))
    return entries


def target_environment(minor: int, machine: str) -> dict[str, str]:
    """The marker environment of CPython 3.<minor> on Linux on `machine`."""
    return default_environment() | {
        "implementation_name": "cpython", "platform_python_implementation": "CPython", "os_name": "posix",
        "sys_platform": "linux", "platform_system": "Linux", "platform_machine": machine,
        "python_version": f"3.{minor}", "python_full_version": f"3.{minor}.0", "implementation_version": f"3.{minor}.0"}


def pins_for(entries, environment: dict[str, str]) -> dict[str, list[Requirement]]:
    """The lock's entries that apply in `environment`, by canonical name."""
    out: dict[str, list[Requirement]] = {}
    for req, _ in entries:
        if req.marker is None or req.marker.evaluate(environment):
            out.setdefault(canonicalize_name(req.name), []).append(req)
    return out


def pinned_version(req: Requirement) -> Version:
    (spec,) = req.specifier
    return Version(spec.version)


def required(pyproject: dict) -> list[Requirement]:
    """Everything pyproject asks for: dependencies, every extra, the dependency groups, the build system."""
    raw = list(pyproject["project"]["dependencies"])
    for extra in pyproject["project"].get("optional-dependencies", {}).values():
        raw += extra
    for group in pyproject.get("dependency-groups", {}).values():
        raw += group
    raw += pyproject["build-system"]["requires"]
    return [Requirement(r) for r in raw]


def lock_problems(pyproject: dict, entries) -> list[str]:
    """Why the lock does not pin pyproject's requirements, on every target; empty when it does."""
    problems = []
    for req, hashes in entries:
        specs = list(req.specifier)
        if len(specs) != 1 or specs[0].operator != "==":
            problems.append(f"{req}: not pinned with ==")
        if not hashes or not all(HASH.fullmatch(h) for h in hashes):
            problems.append(f"{req}: no sha256 hashes")
    for minor, machine in TARGETS:
        environment = target_environment(minor, machine)
        pins = pins_for(entries, environment)
        for want in required(pyproject):
            if want.marker is not None and not want.marker.evaluate(environment | {"extra": ""}):
                continue
            found = pins.get(canonicalize_name(want.name), [])
            if len(found) != 1:
                problems.append(f"{want} on Python 3.{minor} {machine}: {len(found)} pins in the lock")
            elif not want.specifier.contains(pinned_version(found[0]), prereleases=True):
                problems.append(f"{want} on Python 3.{minor} {machine}: the lock pins {found[0]}")
    return problems


def test_the_lock_pins_every_requirement_of_pyproject_with_hashes_within_its_range():
    pyproject = tomllib.loads(PYPROJECT.read_text())
    problems = lock_problems(pyproject, parse_lock(LOCK.read_text()))
    assert not problems, "requirements.lock drifted from pyproject.toml; run `make lock`:\n" + "\n".join(problems)


def test_a_requirement_the_lock_misses_or_pins_outside_its_range_is_reported():
    pyproject = tomllib.loads(PYPROJECT.read_text())
    pyproject["project"]["dependencies"] = ["shapely>=99", "no-such-package-gridgov>=1"]
    problems = lock_problems(pyproject, parse_lock(LOCK.read_text()))
    assert any(p.startswith("shapely>=99 on Python 3.11 x86_64: the lock pins shapely==") for p in problems)
    assert any(p.startswith("no-such-package-gridgov>=1 on Python 3.13 aarch64: 0 pins") for p in problems)
    unhashed = parse_lock("shapely==2.1.0\nnumpy>=2 \\\n    --hash=sha256:" + "0" * 64 + "\n")
    assert lock_problems({"project": {"dependencies": []}, "build-system": {"requires": []}}, unhashed) == [
        "shapely==2.1.0: no sha256 hashes", "numpy>=2: not pinned with =="]


def test_every_supported_python_and_cpu_gets_one_version_of_each_locked_package():
    entries = parse_lock(LOCK.read_text())
    for minor, machine in TARGETS:
        several = {name: [str(r) for r in reqs]
                   for name, reqs in pins_for(entries, target_environment(minor, machine)).items()
                   if len(reqs) > 1}
        assert not several, f"Python 3.{minor} {machine}: {several}"


def test_this_environment_was_installed_from_the_lock():
    pins = pins_for(parse_lock(LOCK.read_text()), default_environment())
    wrong = []
    for name, (req,) in pins.items():
        try:
            installed = metadata.version(name)
        except metadata.PackageNotFoundError:
            wrong.append(f"{name}: not installed (the lock pins {pinned_version(req)})")
            continue
        if Version(installed) != pinned_version(req):
            wrong.append(f"{name}: {installed} installed, the lock pins {pinned_version(req)}")
    assert len(pins) > 40, "the lock pins next to nothing for this platform"
    assert not wrong, ".venv was not installed from requirements.lock (make test rebuilds it):\n" + "\n".join(wrong)
