"""Instance sets of the benchmark, and loading one instance into memory.

An instance is an `InstanceSpec`: either a file (named by its path relative to the instances root,
e.g. "netlib/afiro.mps.gz", the key of `reference.json`) or a generated instance (kind, target
nonzeros, seed; named "generated/cvar_nnz1e5_seed0"). Sets are the folders of the instances root
(netlib, infeasible, mip, qp, maros-meszaros, ...), "generated", or explicit files.

Files are read with `gpulp.read_mps` when it exists, otherwise through highspy's reader. Integer
markers are dropped: the benchmark solves the LP/QP relaxation, which is what `reference.json`'s
"objective" holds for the MIP set.

Knows: the layout of shared/instances and its reference files, and the generators.
Must not know: solvers, timing policy or judging.
"""

from __future__ import annotations

import glob
import gzip
import json
import os
import shutil
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Optional

__all__ = ["InstanceSpec", "default_instances_root", "resolve_sets", "generated_specs",
           "load_instance", "shared_reference", "normalise_status", "format_nnz"]

REPO_ROOT = Path(__file__).resolve().parent.parent
MPS_SUFFIXES = (".mps", ".mps.gz", ".qps", ".qps.gz")


@dataclass
class InstanceSpec:
    name: str
    path: Optional[str] = None
    kind: Optional[str] = None
    nnz: Optional[int] = None
    seed: int = 0

    @property
    def generated(self) -> bool:
        return self.kind is not None

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d) -> "InstanceSpec":
        return cls(**d)


def default_instances_root() -> Path:
    """$GPULP_SHARED/instances, else ../shared/instances beside the repository."""
    shared = os.environ.get("GPULP_SHARED")
    base = Path(shared) if shared else REPO_ROOT.parent / "shared"
    return base / "instances"


def format_nnz(nnz: int) -> str:
    """1e5 for 100000, 2.5e6 for 2500000: the shorter of that form and the digits."""
    mant, exp = f"{nnz:.6e}".split("e")
    mant = mant.rstrip("0").rstrip(".")
    short = f"{mant}e{int(exp)}"
    return short if float(short) == nnz and len(short) < len(str(nnz)) else str(nnz)


def generated_specs(kinds, sizes, seed=0):
    """One spec per (kind, target nnz)."""
    return [InstanceSpec(name=f"generated/{kind}_nnz{format_nnz(int(nnz))}_seed{seed}",
                         kind=kind, nnz=int(nnz), seed=seed)
            for kind in kinds for nnz in sizes]


def _is_instance_file(p: Path) -> bool:
    return p.is_file() and p.name.endswith(MPS_SUFFIXES)


def _file_spec(path: Path, root: Path) -> InstanceSpec:
    path = path.resolve()
    try:
        name = path.relative_to(root.resolve()).as_posix()
    except ValueError:
        name = path.as_posix()
    return InstanceSpec(name=name, path=str(path))


def resolve_sets(names, root, kinds=(), sizes=(), seed=0):
    """Specs for a list of set names ('netlib', 'generated', any folder under root), files or
    glob patterns, in order and without duplicates."""
    root = Path(root)
    specs, seen = [], set()

    def add(spec):
        if spec.name not in seen:
            seen.add(spec.name)
            specs.append(spec)

    for name in names:
        if name == "generated":
            for spec in generated_specs(kinds, sizes, seed):
                add(spec)
            continue
        folder = root / name
        if folder.is_dir():
            for p in sorted(folder.iterdir()):
                if _is_instance_file(p):
                    add(_file_spec(p, root))
            continue
        matches = [Path(p) for p in sorted(glob.glob(name))] or [Path(name)]
        found = False
        for p in matches:
            if _is_instance_file(p):
                add(_file_spec(p, root))
                found = True
        if not found:
            raise FileNotFoundError(f"{name!r} is neither a set under {root} nor an MPS/QPS file")
    return specs


def normalise_status(status) -> Optional[str]:
    """HiGHS's or gpulp's status words -> gpulp's ('optimal', 'primal_infeasible', ...)."""
    if status is None:
        return None
    return {"Optimal": "optimal", "Infeasible": "primal_infeasible",
            "Unbounded": "dual_infeasible"}.get(status, status)


def shared_reference(spec: InstanceSpec, root) -> Optional[dict]:
    """{'objective', 'status', 'source'} from root/reference.json or <set>/reference.json."""
    if spec.generated or spec.path is None:
        return None
    root = Path(root)
    candidates = [(root / "reference.json", spec.name)]
    rel = Path(spec.name)
    if len(rel.parts) > 1:
        candidates.append((root / rel.parts[0] / "reference.json", "/".join(rel.parts[1:])))
    for ref_file, key in candidates:
        if not ref_file.is_file():
            continue
        entry = json.loads(ref_file.read_text()).get(key)
        if entry and entry.get("status"):
            ref = {"objective": entry.get("objective"),
                   "status": normalise_status(entry["status"]),
                   "source": f"{ref_file.relative_to(root).as_posix()}:{key}"}
            return _apply_erratum(spec.name, ref)
    return None


ERRATA = Path(__file__).with_name("reference_errata.json")


def _apply_erratum(name: str, ref: dict) -> dict:
    """ref with the objective of bench/reference_errata.json where that file corrects this
    instance's shared value (only while the shared value is still the one it corrects), and a
    source that says so."""
    fix = json.loads(ERRATA.read_text()).get(name) if ERRATA.is_file() else None
    if not fix or ref.get("objective") != fix["shared_objective"]:
        return ref
    return dict(ref, objective=fix["objective"],
                source=f"{ref['source']} corrected by bench/reference_errata.json "
                       f"(shared {fix['shared_objective']}: {fix['why']})")


def _read_with_highs(path: str):
    import highspy

    from .solvers import problem_from_highs

    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    with tempfile.TemporaryDirectory() as tmp:
        target = path
        if path.endswith((".qps", ".qps.gz")):
            target = os.path.join(tmp, "model.mps")
            opener = gzip.open if path.endswith(".gz") else open
            with opener(path, "rb") as src, open(target, "wb") as dst:
                shutil.copyfileobj(src, dst)
        status = h.readModel(target)
    if status == highspy.HighsStatus.kError:
        raise ValueError(f"HiGHS could not read {path}")
    return problem_from_highs(h, name=Path(path).name)


def _read_file(path: str):
    try:
        from gpulp.mps import read_mps
    except ImportError:
        return _read_with_highs(path), "highspy"
    return read_mps(path), "gpulp"


def load_instance(spec: InstanceSpec):
    """(Problem, read_time in seconds, reader name). Integrality is dropped."""
    t0 = time.perf_counter()
    if spec.generated:
        from instances.generators import by_nnz
        problem, reader = by_nnz(spec.kind, spec.nnz, seed=spec.seed), "generator"
    else:
        problem, reader = _read_file(spec.path)
    if problem.is_mip:
        problem.integrality[:] = False
    return problem, time.perf_counter() - t0, reader
