"""Shared fixtures: where the public test instances live.

The instances are read in place from <shared>/instances, where <shared> is $GPULP_SHARED or, by
default, the `shared` folder next to the repository root. Tests that need them skip when absent.
"""

import json
import os
from pathlib import Path

import pytest

INSTANCE_SUFFIXES = (".mps", ".mps.gz", ".qps", ".qps.gz")


def shared_instances_dir() -> Path:
    """The instances folder; pytest.skip with a clear message when it does not exist."""
    shared = Path(os.environ.get("GPULP_SHARED", Path(__file__).resolve().parents[2] / "shared"))
    instances = shared / "instances"
    if not instances.is_dir():
        pytest.skip(f"shared instances not found at {instances} (set GPULP_SHARED)")
    return instances


def instance_files(instances: Path):
    """Every MPS/QPS file under `instances` (all subfolders), sorted."""
    return sorted(p for p in instances.rglob("*") if p.name.endswith(INSTANCE_SUFFIXES))


@pytest.fixture(scope="session")
def shared_instances() -> Path:
    return shared_instances_dir()


@pytest.fixture(scope="session")
def reference(shared_instances) -> dict:
    """instances/reference.json: {"<folder>/<file>": {...}}."""
    return json.loads((shared_instances / "reference.json").read_text())
