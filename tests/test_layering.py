"""The design's layering: only gpulp/backend.py imports cupy or numba."""

import ast
import pathlib

PKG = pathlib.Path(__file__).resolve().parents[1] / "gpulp"


def _imported_roots(path):
    roots = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            roots.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


def test_only_backend_imports_cupy_or_numba():
    offenders = {str(p.relative_to(PKG)): sorted(_imported_roots(p) & {"cupy", "numba", "cupyx"})
                 for p in PKG.rglob("*.py") if p.name != "backend.py"}
    assert {k: v for k, v in offenders.items() if v} == {}
    assert {"cupy", "numba"} <= _imported_roots(PKG / "backend.py")


def test_import_gpulp_is_light():
    import subprocess
    import sys
    code = ("import sys, gpulp; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('cupy', 'numba')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=str(PKG.parent))
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
