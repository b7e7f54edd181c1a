"""Tests of gpulp.mps: the public instances against HiGHS, hand-made edge cases, and round trips."""

import gzip
import json
import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import gpulp
from gpulp import MPSError, Problem
from gpulp import mps as mps_module
from conftest import instance_files, shared_instances_dir

# Files that gpulp reads differently from HiGHS 1.15.1 on purpose.
STRICTER_THAN_HIGHS = {
    # Unknown rows in COLUMNS/RHS/RANGES and an unknown column in BOUNDS: HiGHS ignores the
    # entries (or adds the column) with a warning; gpulp rejects the file.
    "mps-edge/warnings.mps": (12, "unknown row 'R11' in COLUMNS"),
}
DIFFERENT_FROM_HIGHS = {
    # Indented data lines whose column is called OBJSENSE, RANGES or RHS: HiGHS takes them for
    # section headers and keeps 1 column; gpulp only takes headers from column 1 and keeps all 5.
    "mps-edge/silly-names.mps",
    # The RHS set is called "1", which is also a row name; HiGHS then reads `1  2  0.0` as
    # "row 1, value 2" instead of "set 1, row 2, value 0.0". See test_rhs_set_named_like_a_row.
    "maros-meszaros/dpklo1.qps.gz",
}


def _instances_or_none():
    try:
        return shared_instances_dir()
    except pytest.skip.Exception:
        return None


def _references(instances):
    refs = json.loads((instances / "reference.json").read_text())
    mm = instances / "maros-meszaros" / "reference.json"
    if mm.is_file():
        refs.update({f"maros-meszaros/{k}": v for k, v in json.loads(mm.read_text()).items()})
    return refs


def _cases(kind):
    instances = _instances_or_none()
    if instances is None:
        return [pytest.param(None, marks=pytest.mark.skip(reason="shared instances not found "
                                                                 "(set GPULP_SHARED)"))]
    refs = _references(instances)
    out = []
    for path in instance_files(instances):
        key = path.relative_to(instances).as_posix()
        ref = refs.get(key, {})
        error = ref.get("expect") == "error" or ref.get("read", "ok") not in ("ok", "warning")
        if kind == "error" and error:
            out.append(pytest.param(key, id=key))
        elif kind == "highs" and not error and key not in STRICTER_THAN_HIGHS \
                and key not in DIFFERENT_FROM_HIGHS:
            out.append(pytest.param(key, id=key))
    return out


# ---------------------------------------------------------------------- HiGHS as the reference
def read_with_highs(path: Path, tmp_path: Path) -> dict:
    """The model of `path` as HiGHS reads it, in gpulp's conventions (inf for infinity)."""
    highspy = pytest.importorskip("highspy")
    if path.name.endswith(".qps.gz") or path.name.endswith(".qps"):
        plain = tmp_path / (path.name.split(".")[0] + ".mps")
        opener = gzip.open if path.name.endswith(".gz") else open
        with opener(path, "rb") as src, open(plain, "wb") as dst:
            shutil.copyfileobj(src, dst)
        path = plain
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    status = h.readModel(str(path))
    assert status != highspy.HighsStatus.kError, f"HiGHS cannot read {path}"
    lp = h.getLp()
    m, n = lp.num_row_, lp.num_col_
    a = lp.a_matrix_
    assert a.format_ == highspy.MatrixFormat.kColwise
    A = sp.csc_matrix((np.array(a.value_), np.array(a.index_), np.array(a.start_)), shape=(m, n))
    hess = h.getModel().hessian_
    Q = None
    if hess.dim_:
        assert hess.format_ == highspy.HessianFormat.kTriangular
        L = sp.csc_matrix((np.array(hess.value_), np.array(hess.index_), np.array(hess.start_)),
                          shape=(n, n))
        Q = (L + sp.tril(L, k=-1).T).tocsr()

    def inf(v):
        v = np.array(v, dtype=float)
        v[v >= highspy.kHighsInf] = np.inf
        v[v <= -highspy.kHighsInf] = -np.inf
        return v

    integrality = np.array([t == highspy.HighsVarType.kInteger for t in lp.integrality_],
                           dtype=bool) if len(lp.integrality_) else np.zeros(n, dtype=bool)
    return dict(c=np.array(lp.col_cost_), A=A.tocsr(), row_lower=inf(lp.row_lower_),
                row_upper=inf(lp.row_upper_), col_lower=inf(lp.col_lower_),
                col_upper=inf(lp.col_upper_), Q=Q, objective_constant=lp.offset_,
                sense="max" if lp.sense_ == highspy.ObjSense.kMaximize else "min",
                integrality=integrality, row_names=list(lp.row_names_),
                col_names=list(lp.col_names_))


def assert_same_as_highs(p: Problem, ref: dict, small=1e-9):
    """HiGHS drops |a_ij| <= 1e-9 (its small_matrix_value) when it takes the model in."""
    A = p.A.copy()
    A.data[np.abs(A.data) <= small] = 0
    A.eliminate_zeros()
    got = Problem(p.c, A, p.row_lower, p.row_upper, p.col_lower, p.col_upper, p.Q,
                  p.objective_constant, p.sense, p.integrality)
    want = Problem(ref["c"], ref["A"], ref["row_lower"], ref["row_upper"], ref["col_lower"],
                   ref["col_upper"], ref["Q"], ref["objective_constant"], ref["sense"],
                   ref["integrality"])
    for field in ("c", "row_lower", "row_upper", "col_lower", "col_upper", "integrality"):
        np.testing.assert_array_equal(getattr(got, field), getattr(want, field), err_msg=field)
    assert abs(got.A - want.A).max() <= 1e-12 * max(1.0, abs(want.A).max()) if want.nnz else \
        got.nnz == 0
    assert got.A.nnz == want.A.nnz
    assert (got.Q is None) == (want.Q is None)
    if want.Q is not None:
        assert got.Q.nnz == want.Q.nnz
        assert abs(got.Q - want.Q).max() <= 1e-12 * abs(want.Q).max()
    assert got.objective_constant == want.objective_constant
    assert got.sense == want.sense
    assert got.equals(want, rtol=1e-12)
    if ref["col_names"]:
        assert p.col_names == ref["col_names"]
    if ref["row_names"]:
        assert p.row_names == ref["row_names"]


@pytest.mark.parametrize("key", _cases("highs"))
def test_instance_matches_highs(key, shared_instances, tmp_path):
    path = shared_instances / key
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        p = gpulp.read_mps(path)
    assert_same_as_highs(p, read_with_highs(path, tmp_path))


@pytest.mark.parametrize("key", _cases("error"))
def test_instance_expected_to_fail(key, shared_instances):
    with pytest.raises(MPSError) as info:
        gpulp.read_mps(shared_instances / key)
    assert info.value.line is not None and info.value.line >= 1


@pytest.mark.parametrize("key", sorted(STRICTER_THAN_HIGHS))
def test_instance_rejected_where_highs_warns(key, shared_instances):
    line, message = STRICTER_THAN_HIGHS[key]
    with pytest.raises(MPSError) as info:
        gpulp.read_mps(shared_instances / key)
    assert info.value.line == line
    assert message in info.value.message


def test_silly_names_keeps_columns_named_like_sections(shared_instances):
    p = gpulp.read_mps(shared_instances / "mps-edge" / "silly-names.mps")
    assert p.col_names == ["C0", "OBJSENSE", "RANGES", "RHS", "C1"]
    assert p.row_names == ["R0"]
    np.testing.assert_array_equal(p.c, -np.ones(5))
    np.testing.assert_array_equal(p.A.toarray(), -np.ones((1, 5)))
    assert p.row_lower[0] == -1.0 and p.row_upper[0] == np.inf


def test_small_chunks_read_the_same(shared_instances, monkeypatch):
    """Block boundaries inside COLUMNS, RHS and QUADOBJ do not change what is read."""
    keys = ["netlib/afiro.mps.gz", "netlib/boeing1.mps.gz", "mip/bell5.mps.gz",
            "maros-meszaros/qafiro.qps.gz", "mps-edge/silly-names.mps", "netlib/blend.mps.gz"]
    whole = [gpulp.read_mps(shared_instances / k) for k in keys]
    monkeypatch.setattr(mps_module, "_CHUNK", 97)
    for k, p in zip(keys, whole):
        q = gpulp.read_mps(shared_instances / k)
        assert q.equals(p) and q.col_names == p.col_names and q.row_names == p.row_names, k


def test_large_file_smoke(tmp_path, monkeypatch):
    """A few hundred thousand nonzeros through the vectorised paths, in many blocks (no timing)."""
    rng = np.random.default_rng(7)
    m, n, nnz = 2_000, 50_000, 300_000
    A = sp.csr_matrix((rng.integers(-9, 10, nnz) / 4, (rng.integers(0, m, nnz),
                                                       rng.integers(0, n, nnz))), shape=(m, n))
    integrality = rng.random(n) < 0.1
    p = Problem(rng.standard_normal(n), A, np.full(m, -1.0),
                np.where(rng.random(m) < 0.5, 1.0, np.inf),
                col_upper=np.where(integrality, 3.0, np.inf), integrality=integrality,
                Q=sp.diags(rng.random(n)), name="smoke")
    path = tmp_path / "smoke.mps.gz"
    gpulp.write_mps(p, path)
    monkeypatch.setattr(mps_module, "_CHUNK", 1 << 20)
    q = gpulp.read_mps(path)
    assert q.equals(p) and q.col_names == [f"C{j}" for j in range(n)]


def test_fixture_skips_without_instances(monkeypatch, tmp_path):
    missing = tmp_path / "nowhere"
    monkeypatch.setenv("GPULP_SHARED", str(missing))
    with pytest.raises(pytest.skip.Exception) as info:
        shared_instances_dir()
    assert str(missing / "instances") in str(info.value)
    assert "set GPULP_SHARED" in str(info.value)


# ---------------------------------------------------------------------- hand-made files
LP = """\
NAME          SMALL
ROWS
 N  COST
 L  LIM1
 G  LIM2
 E  MYEQN
COLUMNS
    X1        COST         1.0   LIM1         1.0
    X1        LIM2         1.0
    X2        COST         2.0   LIM1         1.0
    X2        MYEQN       -1.0
    X3        COST         3.0   MYEQN        1.0
RHS
    RHS       LIM1         4.0   LIM2         1.0
    RHS       MYEQN        7.0
BOUNDS
 UP BND       X1           4.0
 LO BND       X2          -1.0
ENDATA
"""


def write(tmp_path, text, name="t.mps"):
    path = tmp_path / name
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return path


def read(tmp_path, text, name="t.mps"):
    return gpulp.read_mps(write(tmp_path, text, name))


def read_warn(tmp_path, text):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        p = read(tmp_path, text)
    return p, [str(w.message) for w in caught]


def error(tmp_path, text, name="t.mps"):
    with pytest.raises(MPSError) as info:
        read(tmp_path, text, name)
    assert str(info.value).startswith(str(tmp_path / name))
    return info.value


def test_small_lp(tmp_path):
    p = read(tmp_path, LP)
    assert p.name == "SMALL"
    assert p.row_names == ["LIM1", "LIM2", "MYEQN"] and p.col_names == ["X1", "X2", "X3"]
    np.testing.assert_array_equal(p.c, [1, 2, 3])
    np.testing.assert_array_equal(p.A.toarray(), [[1, 1, 0], [1, 0, 0], [0, -1, 1]])
    np.testing.assert_array_equal(p.row_lower, [-np.inf, 1, 7])
    np.testing.assert_array_equal(p.row_upper, [4, np.inf, 7])
    np.testing.assert_array_equal(p.col_lower, [0, -1, 0])
    np.testing.assert_array_equal(p.col_upper, [4, np.inf, np.inf])
    assert p.sense == "min" and p.objective_constant == 0 and not p.is_qp and not p.is_mip


def test_str_and_path(tmp_path):
    path = write(tmp_path, LP)
    assert gpulp.read_mps(str(path)).equals(gpulp.read_mps(Path(path)))


def test_crlf_reads_like_lf(tmp_path):
    lf = read(tmp_path, LP, "lf.mps")
    crlf = read(tmp_path, LP.replace("\n", "\r\n"), "crlf.mps")
    assert crlf.equals(lf) and crlf.col_names == lf.col_names and crlf.name == "SMALL"


@pytest.mark.parametrize("name", ["t.mps.gz", "t.mps", "t.qps.gz", "t.qps"])
def test_gzip_detected_by_magic(tmp_path, name):
    p = read(tmp_path, gzip.compress(LP.encode()), name)
    assert p.equals(read(tmp_path, LP, "plain.mps"))


def test_corrupt_gzip(tmp_path):
    err = error(tmp_path, gzip.compress(LP.encode())[:40], "t.mps.gz")
    assert err.line is None and "gzip" in err.message


def test_comments_blank_lines_and_bom(tmp_path):
    text = "\ufeff* header comment\n\n" + LP.replace(
        "COLUMNS\n", "COLUMNS\n* inside 'MARKER' 'INTORG'\n\n   \n")
    assert read(tmp_path, text).equals(read(tmp_path, LP, "plain.mps"))


@pytest.mark.parametrize("sense", [
    "OBJSENSE MAX\n", "OBJSENSE\n    MAX\n", "OBJSENSE\nMAX\n", "OBJSENSE\n    MAXIMIZE\n",
    "OBJSENSE    MAXIMIZE\n"])
def test_objsense_max(tmp_path, sense):
    p = read(tmp_path, LP.replace("ROWS\n", sense + "ROWS\n"))
    assert p.sense == "max"
    np.testing.assert_array_equal(p.c, [1, 2, 3])


def test_objsense_min_and_bad(tmp_path):
    assert read(tmp_path, LP.replace("ROWS\n", "OBJSENSE\n    MIN\nROWS\n")).sense == "min"
    err = error(tmp_path, LP.replace("ROWS\n", "OBJSENSE\n    UP\nROWS\n"))
    assert err.line == 3 and "OBJSENSE" in err.message


def test_objective_constant_and_extra_n_rows(tmp_path):
    text = LP.replace(" L  LIM1\n", " N  OTHER\n L  LIM1\n").replace(
        "    X3        COST         3.0",
        "    X3        OTHER        9.0\n    X3        COST         3.0")
    text = text.replace("    RHS       MYEQN        7.0", "    RHS       MYEQN        7.0\n"
                                                          "    RHS       COST        -2.5")
    p, caught = read_warn(tmp_path, text)
    assert p.objective_constant == 2.5
    assert p.row_names == ["LIM1", "LIM2", "MYEQN"]
    np.testing.assert_array_equal(p.c, [1, 2, 3])
    assert len(caught) == 1 and "OTHER" in caught[0]


RANGED = """\
NAME
ROWS
 N  obj
 E  e_pos
 E  e_neg
 E  e_zero
 L  l
 G  g
 E  e_plain
COLUMNS
    x  obj  1  e_pos  1
    x  e_neg  1  e_zero  1
    x  l  1  g  1
    x  e_plain  1
RHS
    rhs  e_pos  1  e_neg  2
    rhs  e_zero  3  l  4
    rhs  g  5  e_plain  6
RANGES
    rng  e_pos  2  e_neg  -3
    rng  e_zero  0  l  -7
    rng  g  8
ENDATA
"""


def test_ranges_semantics(tmp_path):
    p = read(tmp_path, RANGED)
    np.testing.assert_array_equal(p.row_lower, [1, -1, 3, -3, 5, 6])
    np.testing.assert_array_equal(p.row_upper, [3, 2, 3, 4, 13, 6])


def test_missing_set_names(tmp_path):
    text = RANGED.replace("    rhs  ", "    ").replace("    rng  ", "    ")
    assert read(tmp_path, text).equals(read(tmp_path, RANGED, "named.mps"))
    bounds = LP.replace(" UP BND       X1", " UP X1").replace(" LO BND       X2", " LO X2")
    assert read(tmp_path, bounds).equals(read(tmp_path, LP, "named.mps"))


def test_rhs_set_named_like_a_row(tmp_path):
    text = RANGED.replace("    rhs  ", "    e_pos  ")
    assert read(tmp_path, text).equals(read(tmp_path, RANGED, "named.mps"))


def test_bound_types(tmp_path):
    text = """\
NAME
ROWS
 N  obj
COLUMNS
    a  obj  1
    b  obj  1
    c  obj  1
    d  obj  1
    e  obj  1
    f  obj  1
    g  obj  1
    h  obj  1
    i  obj  1
BOUNDS
 UP BND a 4
 LO BND b -2
 FX BND c 3.5
 FR BND d
 MI BND e
 PL BND f
 BV BND g
 LI BND h -3
 UI BND h 7
 MI BND i
 UP BND i -5
ENDATA
"""
    p = read(tmp_path, text)
    np.testing.assert_array_equal(p.col_lower, [0, -2, 3.5, -np.inf, -np.inf, 0, 0, -3, -np.inf])
    np.testing.assert_array_equal(p.col_upper, [4, np.inf, 3.5, np.inf, np.inf, np.inf, 1, 7, -5])
    np.testing.assert_array_equal(p.integrality, [0, 0, 0, 0, 0, 0, 1, 1, 0])


def test_infinite_values(tmp_path):
    text = LP.replace(" UP BND       X1           4.0", " UP BND       X1          1e30\n"
                                                         " MI BND       X3\n"
                                                         " UP BND       X3          1e19")
    text = text.replace(" LO BND       X2          -1.0", " LO BND       X2         -1e20")
    text = text.replace("LIM1         4.0", "LIM1        1e21")
    p = read(tmp_path, text)
    np.testing.assert_array_equal(p.col_upper, [np.inf, np.inf, 1e19])
    np.testing.assert_array_equal(p.col_lower, [0, -np.inf, -np.inf])
    assert p.row_upper[0] == np.inf
    text = LP.replace(" UP BND       X1           4.0", " UP BND       X1          inf")
    assert read(tmp_path, text).col_upper[0] == np.inf


def test_integer_markers(tmp_path):
    text = """\
NAME
ROWS
 N  obj
 L  r
COLUMNS
    x  obj  1  r  1
    M1  'MARKER'  'INTORG'
    i1  obj  1  r  1
    i2  obj  1  r  1
    i3  obj  1  r  1
    i4  r  1
    M2  'MARKER'  'INTEND'
    y  obj  1  r  1
RHS
    rhs  r  10
BOUNDS
 UP BND i2 5
 MI BND i3
 LO BND i4 2
ENDATA
"""
    p = read(tmp_path, text)
    np.testing.assert_array_equal(p.integrality, [0, 1, 1, 1, 1, 0])
    np.testing.assert_array_equal(p.col_lower, [0, 0, 0, -np.inf, 2, 0])
    np.testing.assert_array_equal(p.col_upper, [np.inf, 1, 5, np.inf, np.inf, np.inf])


def test_negative_upper_bound_rule(tmp_path):
    text = LP.replace(" UP BND       X1           4.0", " UP BND       X1          -4.0")
    p, caught = read_warn(tmp_path, text)
    assert p.col_lower[0] == -np.inf and p.col_upper[0] == -4
    assert len(caught) == 1 and "negative UP" in caught[0] and "X1" in caught[0]
    text = LP.replace(" LO BND       X2          -1.0", " LO BND       X2          -9.0\n"
                                                         " UP BND       X2          -1.0")
    p, caught = read_warn(tmp_path, text)
    assert p.col_lower[1] == -9 and p.col_upper[1] == -1 and not caught


def test_duplicates_first_value_wins(tmp_path):
    text = LP.replace("    X1        LIM2         1.0",
                      "    X1        LIM2         1.0\n    X1        LIM2         5.0\n"
                      "    X1        COST         8.0")
    text = text.replace("    RHS       MYEQN        7.0", "    RHS       MYEQN        7.0\n"
                                                          "    RHS       MYEQN        9.0")
    text = text.replace(" LO BND       X2          -1.0", " LO BND       X2          -1.0\n"
                                                          " FX BND       X2           3.0")
    p, caught = read_warn(tmp_path, text)
    assert p.equals(read(tmp_path, LP, "plain.mps"))
    assert len(caught) == 4
    assert sum("COLUMNS" in c for c in caught) == 2
    assert any("RHS" in c for c in caught) and any("BOUNDS" in c for c in caught)


QP = """\
NAME          QP
ROWS
 N  obj
 G  r
COLUMNS
    x  obj  1  r  1
    y  obj  -1  r  1
    z  r  1
RHS
    rhs  r  1
{section}
ENDATA
"""
Q_FULL = np.array([[2.0, 1.0, 0.0], [1.0, 4.0, -1.0], [0.0, -1.0, 3.0]])


@pytest.mark.parametrize("section", [
    "QUADOBJ\n    x  x  2\n    x  y  1\n    y  y  4\n    z  y  -1\n    z  z  3",
    "QUADOBJ\n    x  x  2\n    y  x  1\n    y  y  4\n    y  z  -1\n    z  z  3",
    "QMATRIX\n    x  x  2\n    x  y  1\n    y  x  1\n    y  y  4\n    y  z  -1\n    z  y  -1\n"
    "    z  z  3",
    "QSECTION  obj\n    x  x  2\n    x  y  1\n    y  y  4\n    y  z  -1\n    z  z  3",
    "QUADOBJ\n    x  x  2  y  1\n    y  y  4  z  -1\n    z  z  3",
])
def test_quadratic_sections_give_the_same_q(tmp_path, section):
    p = read(tmp_path, QP.format(section=section))
    np.testing.assert_array_equal(p.Q.toarray(), Q_FULL)


def test_quadratic_duplicates_are_summed(tmp_path):
    section = "QUADOBJ\n    x  x  1\n    x  x  1\n    x  y  1\n    y  y  4\n    z  y  -1\n" \
              "    z  z  3"
    p, caught = read_warn(tmp_path, QP.format(section=section))
    np.testing.assert_array_equal(p.Q.toarray(), Q_FULL)
    assert len(caught) == 1 and "summed" in caught[0]


def test_qmatrix_must_be_symmetric(tmp_path):
    err = error(tmp_path, QP.format(section="QMATRIX\n    x  y  1\n    y  x  2"))
    assert err.line == 13 and "symmetric" in err.message


def test_quadratic_constraints_are_rejected(tmp_path):
    err = error(tmp_path, QP.format(section="QSECTION  r\n    x  x  1"))
    assert err.line == 11 and "quadratic constraints" in err.message


def fixed(f1="", f2="", f3="", f4="", f5="", f6=""):
    """One fixed-format line: fields at columns 2-3, 5-12, 15-22, 25-36, 40-47, 50-61."""
    line = f" {f1:<2} {f2:<8}  {f3:<8}  {f4:>12}"
    if f5:
        line += f"   {f5:<8}  {f6:>12}"
    return line.rstrip() + "\n"


FIXED = ("NAME          FIXED\nROWS\n" + fixed("N", "COST") + fixed("L", "LIM 1")
         + fixed("G", "LIM 2") + "COLUMNS\n" + fixed("", "MY X", "COST", "1.0", "LIM 1", "1.0")
         + fixed("", "MY X", "LIM 2", "1.0") + fixed("", "Y", "COST", "2.0", "LIM 1", "1.0")
         + "RHS\n" + fixed("", "RHS 1", "LIM 1", "4.0", "LIM 2", "1.0")
         + "RANGES\n" + fixed("", "R G", "LIM 2", "2.0")
         + "BOUNDS\n" + fixed("UP", "BND 1", "MY X", "3.0") + "ENDATA\n")


def test_fixed_format_names_with_spaces(tmp_path):
    p = read(tmp_path, FIXED)
    assert p.row_names == ["LIM 1", "LIM 2"] and p.col_names == ["MY X", "Y"]
    np.testing.assert_array_equal(p.A.toarray(), [[1, 1], [1, 0]])
    np.testing.assert_array_equal(p.row_lower, [-np.inf, 1])
    np.testing.assert_array_equal(p.row_upper, [4, 3])
    np.testing.assert_array_equal(p.col_upper, [3, np.inf])


def test_fortran_exponent(tmp_path):
    p = read(tmp_path, LP.replace("UP BND       X1           4.0", "UP BND       X1         4.0D1"))
    assert p.col_upper[0] == 40.0


@pytest.mark.parametrize("text, line, words", [
    (LP.replace("ENDATA\n", ""), 18, "ENDATA"),
    (LP[:LP.index("RHS")], 12, "ENDATA"),
    ("", None, "no MPS sections"),
    ("  x y\n" + LP, 1, "before the first section"),
    (LP.replace("RHS\n", "FOO\nRHS\n"), 13, "unknown section 'FOO'"),
    (LP.replace("RHS\n", "SOS\nRHS\n"), 13, "SOS is not supported"),
    (LP.replace("BOUNDS\n", "BOUNDS\nROWS\n"), 17, "ROWS appears twice"),
    (LP.replace(" L  LIM1", " X  LIM1"), 4, "bad row type 'X'"),
    (LP.replace(" L  LIM1", " L  LIM2"), 5, "duplicate row name 'LIM2'"),
    (LP.replace("X2        MYEQN", "X2        NOPE "), 11, "unknown row 'NOPE' in COLUMNS"),
    (LP.replace("RHS       MYEQN", "RHS       NOPE "), 15, "unknown row 'NOPE' in RHS"),
    (RANGED.replace("rng  g  8", "rng  h  8"), 22, "unknown row 'h' in RANGES"),
    (LP.replace("BND       X2 ", "BND       X9 "), 18, "unknown column 'X9' in BOUNDS"),
    (QP.format(section="QUADOBJ\n    x  w  1"), 12, "unknown column 'w' in QUADOBJ"),
    (LP.replace("COST         2.0", "COST       1.2.3"), 10, "bad number '1.2.3'"),
    (LP.replace("LIM1         4.0", "LIM1       1.2.3"), 14, "bad number '1.2.3' in RHS"),
    (LP.replace("X1           4.0", "X1           4x0"), 17, "bad number '4x0' in BOUNDS"),
    (LP.replace("COST         2.0", "COST         nan"), 10, "NaN"),
    (LP.replace("COST         2.0", "COST         NaN"), 10, "NaN"),
    (LP.replace("LIM1         4.0", "LIM1         NaN"), 14, "NaN"),
    (LP.replace("X1           4.0", "X1          -nan"), 17, "NaN"),
    (RANGED.replace("rng  g  8", "rng  g  nan"), 22, "NaN"),
    (QP.format(section="QUADOBJ\n    x  x  nan"), 12, "NaN"),
    (LP.replace("COST         2.0", "COST         inf"), 10, "infinite value 'inf'"),
    (LP.replace("COST         2.0", "COST        1e999"), 10, "overflows"),
    (LP.replace("COST         2.0", "COST        1e+30"), 10, "counts as infinite"),
    (LP.replace(" UP BND", " XX BND"), 17, "bad bound type 'XX'"),
    (LP.replace(" UP BND", " SC BND"), 17, "semi-continuous bounds (SC) are not supported"),
    (LP.replace(" UP BND", " SI BND"), 17, "semi-integer bounds (SI) are not supported"),
    (LP.replace(" UP BND       X1           4.0", " UP BND       X1"), 17, "has no value"),
    (LP.replace(" UP BND       X1           4.0", " UP BND X1 4 5 6"), 17, "fields"),
    (LP.replace("    X1        LIM2         1.0", "    X1  LIM2  1.0  LIM1"), 9, "3 or 5"),
    (LP.replace("    X1        LIM2         1.0", "    X1  LIM2"), 9, "3 or 5"),
    (LP.replace(" L  LIM1", " L  LIM1 extra"), 4, "2 fields"),
    (LP.replace("    X3        COST", "    X1        COST"), 12, "contiguous"),
    (LP.replace("    X2        COST", "    M  'MARKER'  'INTEND'\n    X2        COST"), 10,
     "expected 'INTORG'"),
    (LP.replace(" LO BND       X2          -1.0", " LO BND       X2           9.0\n"
                                                  " UP BND       X2           1.0"), 19, "cross"),
    (LP.replace(" UP BND       X1           4.0", " LO BND       X1          1e30"), 17,
     "infinite"),
    (LP.replace("LIM2         1.0", "LIM2        1e30"), 14, "impossible bounds"),
    (RANGED.replace("rng  g  8", "rng  obj  8"), 22, "objective row"),
    (LP.replace("ROWS\n", "ROWS extra\n"), 2, "unexpected text"),
    (LP.replace("NAME          SMALL\n", "").replace("BOUNDS\n", "BOUNDS\nNAME x\n"), 16,
     "NAME after ROWS"),
])
def test_malformed_files(tmp_path, text, line, words):
    err = error(tmp_path, text)
    assert err.line == line, err
    assert words in err.message, err


# ---------------------------------------------------------------------- slow paths of the reader
def long_names(text, names):
    for short in names:
        text = text.replace(f" {short} ", f" {short}{'_' * 70} ").replace(
            f" {short}\n", f" {short}{'_' * 70}\n")
    return text


def test_names_longer_than_the_vector_keys(tmp_path):
    p = read(tmp_path, long_names(LP, ["X1", "X2", "X3", "LIM1", "LIM2", "MYEQN", "COST"]))
    assert p.equals(read(tmp_path, LP, "plain.mps"))
    assert p.col_names[0] == "X1" + "_" * 70


def test_hash_collisions_fall_back_to_dict(tmp_path, monkeypatch):
    monkeypatch.setattr(mps_module, "_hash", lambda words: np.zeros(len(words), np.uint64))
    assert read(tmp_path, LP).equals(read(tmp_path, LP.replace("SMALL", "S"), "plain.mps"))


# ---------------------------------------------------------------------- writer
def example_problem(**changes):
    A = sp.csr_matrix(np.array([[1.0, 0, 2.5, 0], [0, -1.0, 0, 0], [3.0, 0, 0, 0]]))
    fields = dict(c=[1.0, 0.0, -2.0, 0.0], A=A, row_lower=[-np.inf, 1.0, 0.1],
                  row_upper=[4.0, 1.0, 0.3], col_lower=[0.0, -np.inf, -2.0, 0.0],
                  col_upper=[np.inf, 5.0, 2.0, 1.0],
                  Q=sp.csr_matrix(np.array([[2.0, 1, 0, 0], [1, 2, 0, 0], [0, 0, 0, 0],
                                            [0, 0, 0, 0]])),
                  objective_constant=1.5, sense="max", integrality=[False, False, True, True],
                  name="EX", row_names=["a", "b", "c"], col_names=["w", "x", "y", "z"])
    fields.update(changes)
    return Problem(**fields)


def same(p, q):
    return p.equals(q) and p.name == q.name and p.row_names == q.row_names and \
        p.col_names == q.col_names


@pytest.mark.parametrize("name", ["w.mps", "w.mps.gz"])
def test_write_read_round_trip(tmp_path, name):
    p = example_problem()
    gpulp.write_mps(p, tmp_path / name)
    assert same(gpulp.read_mps(tmp_path / name), p)
    if name.endswith(".gz"):
        assert (tmp_path / name).read_bytes()[:2] == b"\x1f\x8b"


def test_written_file_reads_the_same_in_highs(tmp_path):
    p = example_problem()
    gpulp.write_mps(p, tmp_path / "w.mps")
    assert_same_as_highs(p, read_with_highs(tmp_path / "w.mps", tmp_path))


def test_write_replaces_unsafe_names_and_keeps_empty_columns(tmp_path):
    A = sp.csr_matrix(np.array([[1.0, 0.0, 0.0]]))
    p = Problem([0.0, 0.0, 0.0], A, [1.0], [1.0], row_names=["has space"],
                col_names=["a", "a", "b"])
    gpulp.write_mps(p, tmp_path / "w.mps")
    q = gpulp.read_mps(tmp_path / "w.mps")
    assert q.equals(p) and q.num_cols == 3
    assert q.row_names == ["R0"] and q.col_names == ["C0", "C1", "C2"]


def test_write_factor_q(tmp_path):
    FactorQ = pytest.importorskip("gpulp.problem").__dict__.get("FactorQ")
    if FactorQ is None:
        pytest.skip("no FactorQ in gpulp.problem")
    F = np.array([[1.0, 0.5], [0.0, 2.0], [1.5, -1.0]])
    p = Problem([1.0, 2.0, 3.0], Q=FactorQ(F, [0.1, 0.0, 0.2]))
    gpulp.write_mps(p, tmp_path / "f.mps")
    q = gpulp.read_mps(tmp_path / "f.mps")
    np.testing.assert_allclose(q.Q.toarray(), F @ F.T + np.diag([0.1, 0.0, 0.2]), rtol=1e-15)


def test_write_huge_bounds_warns(tmp_path):
    p = Problem([1.0], col_upper=[1e25])
    with pytest.warns(UserWarning, match="infinite"):
        gpulp.write_mps(p, tmp_path / "w.mps")
    assert gpulp.read_mps(tmp_path / "w.mps").col_upper[0] == np.inf


@st.composite
def problems(draw):
    m = draw(st.integers(0, 6))
    n = draw(st.integers(1, 7))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    number = st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False, width=64)

    def values(k):
        return np.array(draw(st.lists(number, min_size=k, max_size=k)), dtype=float)

    A = sp.random(m, n, density=draw(st.sampled_from([0.0, 0.3, 0.7])), random_state=rng,
                  data_rvs=lambda k: values(k))
    a, b = values(m), values(m)
    kind = rng.integers(0, 5, m)
    row_lower = np.select([kind == 0, kind == 1, kind == 2, kind == 3],
                          [-np.inf, np.minimum(a, b), a, a], -np.inf)
    row_upper = np.select([kind == 0, kind == 1, kind == 2, kind == 3],
                          [a, np.maximum(a, b), a, np.inf], np.inf)
    u, v = values(n), values(n)
    kind = rng.integers(0, 8, n)
    col_lower = np.select([kind == 0, kind == 1, kind == 2, kind == 3, kind == 4, kind == 5],
                          [0, -np.inf, np.minimum(u, v), u, -np.inf, 0], 0.0)
    col_upper = np.select([kind == 0, kind == 1, kind == 2, kind == 3, kind == 4, kind == 5],
                          [np.inf, np.inf, np.maximum(u, v), u, -np.abs(v), 1], np.abs(u))
    integrality = rng.random(n) < 0.3
    Q = None
    if draw(st.booleans()):
        B = sp.random(n, n, density=0.4, random_state=rng, data_rvs=lambda k: values(k))
        Q = (B + B.T).tocsr()
    names = draw(st.booleans())
    return Problem(values(n) * (rng.random(n) < 0.7), A.tocsr(), row_lower, row_upper,
                   col_lower, col_upper, Q, float(values(1)[0]),
                   draw(st.sampled_from(["min", "max"])), integrality,
                   name=draw(st.sampled_from(["", "prob", "x-1"])),
                   row_names=[f"row_{i}" for i in range(m)] if names else None,
                   col_names=[f"col.{j}" for j in range(n)] if names else None)


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(p=problems())
def test_round_trip_property(tmp_path, p):
    path = tmp_path / "prop.mps"
    gpulp.write_mps(p, path)
    q = gpulp.read_mps(path)
    # A two-sided row is read back as rhs +/- range; when no double range gives the far side
    # exactly, that side may be one unit in the last place off. Everything else is exact.
    two_sided = np.isfinite(p.row_lower) & np.isfinite(p.row_upper)
    np.testing.assert_array_max_ulp(q.row_lower[two_sided], p.row_lower[two_sided], maxulp=1)
    np.testing.assert_array_max_ulp(q.row_upper[two_sided], p.row_upper[two_sided], maxulp=1)
    assert np.all((q.row_lower == p.row_lower) | (q.row_upper == p.row_upper))
    q.row_lower[two_sided], q.row_upper[two_sided] = p.row_lower[two_sided], p.row_upper[two_sided]
    assert q.equals(p, rtol=0)
    assert q.name == p.name
    assert q.row_names == (p.row_names or [f"R{i}" for i in range(p.num_rows)])
    assert q.col_names == (p.col_names or [f"C{j}" for j in range(p.num_cols)])
