"""Reading and writing MPS and QPS files.

Knows: the MPS/QPS file formats (free and fixed, plain or gzip-compressed) and the Problem
container. Must not know: the solver, devices, scaling or presolve.

Reading (`read_mps`)
--------------------
Format
    Free and fixed MPS are read by one parser. A data line is split on whitespace first; when its
    field count does not fit the section, or a name or number in it does not resolve, the line is
    read again by fixed columns (field 1 = columns 2-3, field 2 = 5-12, field 3 = 15-22,
    field 4 = 25-36, field 5 = 40-47, field 6 = 50-61), which allows names with spaces. gzip is
    detected by its magic bytes, whatever the extension (.mps, .mps.gz, .qps, .qps.gz). LF and CRLF
    line ends are both accepted. Lines starting with `*` and blank lines are skipped.
Sections
    A section header starts in column 1 (an indented `RHS` is data, e.g. a column called RHS).
    NAME (also `NAME:`; the name is its first word), OBJSENSE (MAX/MAXIMIZE/MIN/MINIMIZE on the
    same or a later line), ROWS, COLUMNS (with MARKER INTORG/INTEND), RHS, RANGES, BOUNDS,
    QUADOBJ, QMATRIX, QSECTION <objective row>, ENDATA. Anything after ENDATA is ignored. SOS,
    QCMATRIX, CSECTION, INDICATORS and other extensions raise MPSError, as does a quadratic
    constraint (QSECTION of a constraint row).
Rows
    The first N row is the objective; later N rows are dropped with a warning, together with their
    entries. An RHS entry on the objective row is the negated objective constant. The RHS and
    RANGES set names may be left out (lines of 2 or 4 fields). RANGES: E with R > 0 gives
    [rhs, rhs+|R|], E with R < 0 gives [rhs-|R|, rhs], L gives [rhs-|R|, rhs], G gives
    [rhs, rhs+|R|].
Bounds
    UP LO FX FR MI PL BV LI UI; the bound set name may be left out. BV, LI and UI make the column
    integer. Columns between INTORG and INTEND markers are integer and get bounds [0, 1] unless some
    BOUNDS entry names them (then the given bounds apply, the others stay at 0 and +inf). SC and SI
    raise MPSError (semi-continuous and semi-integer columns are not supported).
Negative upper bound
    An UP (or UI) bound below zero on a column that never gets a lower bound sets the lower bound
    to -inf, with a warning. (HiGHS 1.15.1 keeps the lower bound 0 and so reads an infeasible
    column, which a Problem cannot hold.)
Infinity
    Like HiGHS, a bound, RHS or range value with |v| >= 1e20 is infinite (`inf`, `-inf` and
    `infinity` are accepted there too). An objective coefficient with |c| >= 1e20 raises MPSError.
    NaN is rejected everywhere, and infinite values in COLUMNS and the quadratic sections.
Duplicates (the rules of HiGHS 1.15.1)
    A repeated entry in COLUMNS (same column and row), RHS, RANGES, or a BOUNDS entry that sets a
    bound that an earlier entry already set, is ignored: the first value wins, with one warning per
    section. Entries with value 0 are dropped before this check. Quadratic entries are summed, with
    one warning per file: QUADOBJ and QSECTION give one triangle (an entry (i, j) also stands for
    (j, i), so giving both triangles doubles them); QMATRIX gives the whole matrix, which must be
    symmetric. The objective is 0.5 x'Qx + c'x, the convention of HiGHS's Hessian.
Errors
    Malformed input raises MPSError(path, line, message) with the 1-based line number and what was
    expected: no ENDATA, an unknown or misplaced section, an unknown row or column name, a bad
    number, a bad row or bound type, a wrong field count, data before the first section, a column
    whose COLUMNS lines are not contiguous, a duplicate row name, crossed bounds. (HiGHS only warns
    about unknown names and duplicate row names, and skips or adds them.)
Speed
    Every section but NAME, OBJSENSE and ROWS is tokenized with NumPy on the raw bytes: names are
    matched through fixed-width byte keys, numbers are parsed in one C call, and lines are only
    visited one by one when something is wrong with them (or, in BOUNDS, when a column has several
    entries that set the same side).

Writing (`write_mps`)
---------------------
Free MPS, gzip-compressed when the path ends in `.gz`. Numbers are written with `repr`, so they read
back exactly; values with |v| >= 1e20 read back as infinite (a warning says so). A two-sided row
is written as a G or L row with a RANGES entry; its RHS side reads back exactly, and the range is
chosen so that the other side (computed by the reader as rhs +/- range) does too whenever some
double allows it, else it is one unit in the last place off. Every column appears in COLUMNS (with
a 0 objective entry when it has no nonzeros); integer columns sit between MARKER lines and get
explicit bounds (BV, LI/UI, PL). Names that are missing, repeated, or contain whitespace are
replaced by R<i> / C<j> for all rows / all columns; whitespace in the model name becomes `_`.
"""

from __future__ import annotations

import gzip
import os
import re
import warnings
import zlib

import numpy as np
import scipy.sparse as sp
from numpy.lib.stride_tricks import sliding_window_view

from .errors import MPSError, ProblemError
from .problem import Problem

__all__ = ["read_mps", "write_mps", "INFINITE_VALUE"]

INFINITE_VALUE = 1e20
"""Bounds, RHS and ranges with |value| >= INFINITE_VALUE are infinite (as in HiGHS)."""

_SUPPORTED = ("NAME", "OBJSENSE", "ROWS", "COLUMNS", "RHS", "RANGES", "BOUNDS", "QUADOBJ",
              "QMATRIX", "QSECTION", "ENDATA")
_UNSUPPORTED = ("OBJNAME", "USERCUTS", "LAZYCONS", "SOS", "SETS", "QCMATRIX", "CSECTION",
                "INDICATORS", "GENCONS", "PWLOBJ", "PWLNAM", "PWLCON", "DELAYEDROWS", "MODELCUTS",
                "BRANCH")
_KEYWORDS = b"|".join(k.encode() for k in ("NAME:?",) + _SUPPORTED[1:] + _UNSUPPORTED)
_HEADER = re.compile(rb"\n(" + _KEYWORDS + rb")(?=[ \t\r\n\x0b\x0c]|\Z)")
_HEADER_AT_START = re.compile(rb"(" + _KEYWORDS + rb")(?=[ \t\r\n\x0b\x0c]|\Z)")
_ORDER = {"ROWS": 1, "COLUMNS": 2, "RHS": 3, "RANGES": 3, "BOUNDS": 3, "QUADOBJ": 3,
          "QMATRIX": 3, "QSECTION": 3}

_WHITESPACE = np.zeros(256, dtype=bool)
_WHITESPACE[[9, 10, 11, 12, 13, 32]] = True
_NUMBER_CHARS = np.zeros(256, dtype=bool)
_NUMBER_CHARS[np.frombuffer(b"0123456789.eE+- ", dtype=np.uint8)] = True

_PAD = 64
_CHUNK = 1 << 24
_UNKNOWN = -9
_OBJECTIVE = -1
_FREE_ROW = -2
_HASH_MULT = np.uint64(0x9E3779B97F4A7C15)

_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eEdD][+-]?\d+)?\Z")
_INFINITY = re.compile(r"[+-]?inf(?:inity)?\Z", re.IGNORECASE)
_NAN = re.compile(r"[+-]?nan\Z", re.IGNORECASE)

_FIELDS = ((1, 3), (4, 12), (14, 22), (24, 36), (39, 47), (49, 61))
_GAPS = ((0, 1), (3, 4), (12, 14), (22, 24), (36, 39), (47, 49))

_BOUND_TYPES = ("UP", "LO", "FX", "FR", "MI", "PL", "BV", "LI", "UI")
_UP, _LO, _FX, _FR, _MI, _PL, _BV, _LI, _UI = range(len(_BOUND_TYPES))
_VALUE_BOUNDS = ("UP", "LO", "FX", "LI", "UI")
_HAS_VALUE = np.array([t in _VALUE_BOUNDS for t in _BOUND_TYPES])
_SETS_LOWER = np.array([t in ("LO", "FX", "FR", "MI", "BV", "LI") for t in _BOUND_TYPES])
_SETS_UPPER = np.array([t in ("UP", "FX", "FR", "PL", "BV", "UI") for t in _BOUND_TYPES])
_SENSES = {"MAX": "max", "MAXIMIZE": "max", "MIN": "min", "MINIMIZE": "min"}


def read_mps(path) -> Problem:
    """Read an MPS or QPS file (free or fixed format, optionally gzip-compressed) into a Problem.

    `path` is a str or os.PathLike. Raises MPSError for malformed input (see the module docstring
    for the rules) and FileNotFoundError when the file does not exist. Unusual but readable input
    (duplicates, extra N rows, negative UP bounds) gives `warnings.warn` messages.
    """
    return _Reader(path).read()


def _decode(name: bytes) -> str:
    return name.decode("utf-8", "surrogateescape")


def _show(name: bytes) -> str:
    return repr(_decode(name))


def _number(text: bytes, allow_inf: bool):
    """(value, None) or (None, message) for one number token; accepts Fortran D exponents."""
    s = text.decode("latin-1")
    if _NUMBER.match(s):
        v = float(s.replace("D", "e").replace("d", "e"))
        if not allow_inf and not np.isfinite(v):
            return None, f"number {s!r} overflows"
        return v, None
    if _NAN.match(s):
        return None, f"NaN value {s!r} is not allowed"
    if _INFINITY.match(s):
        if allow_inf:
            return (-np.inf if s.startswith("-") else np.inf), None
        return None, f"infinite value {s!r} is not allowed here"
    return None, f"bad number {s!r}"


def _fixed_fields(line: bytes):
    """Spans (start, end) of the six fixed-format fields (None for blank ones), or None."""
    line = line.rstrip()
    if len(line) > _FIELDS[-1][1]:
        return None
    padded = line.ljust(_FIELDS[-1][1])
    if any(padded[a:b].strip(b" ") for a, b in _GAPS):
        return None
    spans = []
    for a, b in _FIELDS:
        field = padded[a:b]
        stripped = field.strip(b" ")
        if not stripped:
            spans.append(None)
        else:
            lead = len(field) - len(field.lstrip(b" "))
            spans.append((a + lead, a + lead + len(stripped)))
    return spans


def _hash(words):
    h = words[:, 0].copy()
    for j in range(1, words.shape[1]):
        h *= _HASH_MULT
        h ^= words[:, j]
    return h


class _Chunk:
    """Tokens of a block of whole lines: token spans, the line of each token, tokens per line."""

    def __init__(self, reader, lo, hi, line0):
        b = reader.buf[lo:hi]
        sep = _WHITESPACE[b]
        word = ~sep
        starts = np.flatnonzero(word & np.concatenate(([True], sep[:-1])))
        ends = np.flatnonzero(word & np.concatenate((sep[1:], [True]))) + 1
        newlines = np.flatnonzero(b == 10)
        self.line_start = np.concatenate(([0], newlines + 1)) + lo
        self.line_end = np.concatenate((newlines, [hi - lo])) + lo
        self.nlines = len(self.line_start)
        before = np.concatenate(([0], np.searchsorted(starts, newlines), [len(starts)]))
        counts = np.diff(before)
        first_char = reader.buf[np.minimum(self.line_start, len(reader.buf) - 1)]
        comment = (first_char == ord("*")) & (self.line_start < hi)
        if comment.any():
            keep = np.repeat(~comment, counts)
            starts, ends = starts[keep], ends[keep]
            counts[comment] = 0
        self.ts = starts + lo
        self.te = ends + lo
        self.counts = counts
        self.first = np.cumsum(counts) - counts
        self.line0 = line0

    def text(self, reader, i):
        return reader.data[self.line_start[i]:self.line_end[i]].rstrip()


class _Entries:
    """Name/value pairs of a section, in file order: (line, lead span, name span, value span)."""

    FIELDS = ("line", "k", "lead_s", "lead_e", "name_s", "name_e", "val_s", "val_e")

    def __init__(self, **arrays):
        for f in self.FIELDS:
            setattr(self, f, np.asarray(arrays[f], dtype=np.int64))

    def __len__(self):
        return len(self.line)

    def take(self, idx):
        return _Entries(**{f: getattr(self, f)[idx] for f in self.FIELDS})

    @classmethod
    def concat(cls, parts):
        parts = [p for p in parts if len(p)]
        if not parts:
            return cls(**{f: np.zeros(0, np.int64) for f in cls.FIELDS})
        if len(parts) == 1:
            return parts[0]
        merged = cls(**{f: np.concatenate([getattr(p, f) for p in parts]) for f in cls.FIELDS})
        return merged.take(np.lexsort((merged.k, merged.line)))


class _NameTable:
    """Maps names (bytes) to codes; looks up many spans of the file at once."""

    def __init__(self, reader, index: dict):
        self.reader = reader
        self.index = index
        self.names = list(index)
        self.codes = np.fromiter(index.values(), dtype=np.int64, count=len(index))
        self.lengths = np.fromiter(map(len, self.names), dtype=np.int64, count=len(index))
        self._tables = {}

    def _table(self, width):
        if width not in self._tables:
            fits = np.flatnonzero(self.lengths <= width)
            packed = b"".join(self.names[i].ljust(width, b"\0") for i in fits.tolist())
            words = np.frombuffer(packed, dtype=np.uint8).reshape(len(fits), width)
            words = words.view("<u8")
            h = _hash(words) if len(fits) else np.zeros(0, np.uint64)
            order = np.argsort(h, kind="stable")
            hs = h[order]
            if len(hs) > 1 and np.any(hs[1:] == hs[:-1]):
                self._tables[width] = None
            else:
                self._tables[width] = (hs, fits[order], words[order])
        return self._tables[width]

    def find(self, s, e):
        out = np.full(len(s), _UNKNOWN, dtype=np.int64)
        if not len(s) or not self.names:
            return out
        lengths = e - s
        short = np.flatnonzero((lengths > 0) & (lengths <= _PAD))
        slow = np.flatnonzero((lengths <= 0) | (lengths > _PAD))
        if len(short):
            width = max(8, -(-int(lengths[short].max()) // 8) * 8)
            table = self._table(width)
            if table is None:
                slow = np.arange(len(s))
            else:
                words = self.reader.keys(s[short], lengths[short], width)
                hs, where, twords = table
                if len(hs):
                    h = _hash(words)
                    p = np.minimum(np.searchsorted(hs, h), len(hs) - 1)
                    ok = ((hs[p] == h) & (self.lengths[where[p]] == lengths[short])
                          & (twords[p] == words).all(axis=1))
                    out[short[ok]] = self.codes[where[p[ok]]]
        data = self.reader.data
        for i in slow.tolist():
            out[i] = self.index.get(data[s[i]:e[i]], _UNKNOWN)
        return out


class _Reader:
    def __init__(self, path):
        self.path = os.fspath(path)
        self.data = self._load()
        self.buf = np.frombuffer(self.data, dtype=np.uint8)
        self.win = sliding_window_view(self.buf, _PAD) if len(self.buf) >= _PAD else None
        self.tail_start = max(0, len(self.data) - _PAD)
        tail = np.frombuffer(self.data[self.tail_start:] + b" " * _PAD, dtype=np.uint8)
        self.tail_win = sliding_window_view(tail, _PAD)
        self.name = ""
        self.sense = "min"
        self.row_index = {}
        self.row_names = []
        self.objective_row = None
        self.col_index = {}
        self.col_names = []
        self.columns_read = False
        self.a_parts = []
        self.c_parts = []
        self.markers = []
        self.col_first_line = []
        self.q_parts = {"triangle": [], "full": []}
        self.last_col = None
        self.seen = {}
        self.warnings = []

    # ------------------------------------------------------------------ input
    def _load(self):
        with open(self.path, "rb") as f:
            raw = f.read()
        if raw[:2] == b"\x1f\x8b":
            try:
                raw = gzip.decompress(raw)
            except (OSError, EOFError, zlib.error) as exc:
                raise MPSError(self.path, None, f"cannot decompress gzip data: {exc}") from None
        return raw[3:] if raw.startswith(b"\xef\xbb\xbf") else raw

    def error(self, line, message):
        return MPSError(self.path, line, message)

    def warn(self, message, line=None):
        where = f"{self.path}:{line}" if line is not None else self.path
        self.warnings.append(f"{where}: {message}")

    def gather(self, s, width):
        """A copy of the `width` bytes from each offset in s (blanks past the end of the file)."""
        near = s > len(self.data) - _PAD
        if not near.any():
            return self.win[s, :width]
        out = np.empty((len(s), width), dtype=np.uint8)
        if self.win is not None:
            out[~near] = self.win[s[~near], :width]
        out[near] = self.tail_win[s[near] - self.tail_start, :width]
        return out

    def keys(self, s, lengths, width):
        """Zero-padded first `width` bytes of each span, as uint64 words."""
        g = self.gather(s, width)
        g[np.arange(width) >= lengths[:, None]] = 0
        return g.view("<u8")

    def lines(self, lo, hi, line0):
        """(line number, bytes) of the non-blank, non-comment lines of data[lo:hi]."""
        for k, raw in enumerate(self.data[lo:hi].split(b"\n")):
            if raw[:1] == b"*" or not raw.strip():
                continue
            yield line0 + k, raw.rstrip()

    def chunks(self, lo, hi, line0):
        while lo < hi:
            end = min(hi, lo + _CHUNK)
            if end < hi:
                cut = self.data.rfind(b"\n", lo, end)
                end = cut + 1 if cut >= lo else self.data.find(b"\n", end, hi) + 1 or hi
            yield _Chunk(self, lo, end, line0)
            line0 += self.data.count(b"\n", lo, end)
            lo = end

    def values(self, s, e, allow_inf, section):
        """The numbers in spans, and None or {index: message} for the spans that are not numbers."""
        n = len(s)
        if n == 0:
            return np.zeros(0), None
        lengths = e - s
        if lengths.min() > 0 and lengths.max() < _PAD:
            width = int(lengths.max()) + 1
            g = self.gather(s, width)
            g[np.arange(width) >= lengths[:, None]] = 32
            if _NUMBER_CHARS[g].all():
                with warnings.catch_warnings():
                    warnings.simplefilter("error")
                    try:
                        v = np.fromstring(g.tobytes(), dtype=np.float64, sep=" ")
                    except (DeprecationWarning, ValueError):
                        v = None
                if v is not None and v.size == n and (allow_inf or np.isfinite(v).all()):
                    return v, None
        out = np.zeros(n)
        errors = {}
        for i, (a, b) in enumerate(zip(s.tolist(), e.tolist())):
            v, msg = _number(self.data[a:b], allow_inf)
            if msg is None:
                out[i] = v
            else:
                errors[i] = f"{msg} in {section}"
        return out, (errors or None)

    # ------------------------------------------------------------------ structure
    def read(self) -> Problem:
        for keyword, line, text, lo, hi in self.sections():
            self.section(keyword, line, text, lo, hi)
        problem = self.build()
        for message in self.warnings:
            warnings.warn(message, stacklevel=3)
        return problem

    def sections(self):
        data = self.data
        found = []
        first = _HEADER_AT_START.match(data)
        if first:
            found.append((0, first.group(1)))
        found.extend((m.start(1), m.group(1)) for m in _HEADER.finditer(data))
        prelude_end = found[0][0] if found else len(data)
        for line, _ in self.lines(0, prelude_end, 1):
            raise self.error(line, "data before the first section (expected NAME or ROWS)")
        if not found:
            raise self.error(None, "no MPS sections found (expected NAME or ROWS)")
        line = 1
        pos = 0
        out = []
        for i, (start, keyword) in enumerate(found):
            line += data.count(b"\n", pos, start)
            pos = start
            end_of_header = data.find(b"\n", start)
            end_of_header = len(data) if end_of_header < 0 else end_of_header
            text = data[start:end_of_header].rstrip()
            word = keyword.decode()
            if word == "ENDATA":
                return out + [("ENDATA", line, text, end_of_header, end_of_header)]
            hi = found[i + 1][0] - 1 if i + 1 < len(found) else len(data)
            out.append((word, line, text, end_of_header + 1, max(hi, end_of_header + 1)))
        last = data.count(b"\n") + (0 if data.endswith(b"\n") else 1)
        raise self.error(max(last, 1), "unexpected end of file: no ENDATA (truncated file?)")

    def section(self, keyword, line, text, lo, hi):
        if keyword in _UNSUPPORTED:
            raise self.error(line, f"section {keyword} is not supported")
        keyword = "NAME" if keyword == "NAME:" else keyword
        header = text.split()
        rank = _ORDER.get(keyword)
        if rank is not None:
            if keyword in self.seen and keyword != "QSECTION":
                raise self.error(line, f"section {keyword} appears twice "
                                       f"(first at line {self.seen[keyword]})")
            self.seen.setdefault(keyword, line)
            if rank > 1 and "ROWS" not in self.seen:
                raise self.error(line, f"section {keyword} before ROWS")
            if rank < 3 and any(_ORDER[k] > rank for k in self.seen):
                raise self.error(line, f"section {keyword} after "
                                       f"{[k for k in self.seen if _ORDER[k] > rank][0]}")
            if rank == 3 and not self.columns_read:
                self.finish_columns()
        if keyword not in ("NAME", "OBJSENSE", "QSECTION") and len(header) > 1:
            raise self.error(line, f"unexpected text after section header {keyword}: "
                                   f"{_decode(header[1])!r}")
        getattr(self, "section_" + keyword.lower())(line, header if keyword != "NAME" else text,
                                                    lo, hi)

    def section_endata(self, line, header, lo, hi):
        if "ROWS" not in self.seen:
            raise self.error(line, "ENDATA before ROWS (no ROWS section)")
        self.finish_columns()

    def section_name(self, line, text, lo, hi):
        if self.seen:
            raise self.error(line, "NAME after ROWS")
        words = text.split()
        self.name = _decode(words[1]) if len(words) > 1 else ""
        for bad, _ in self.lines(lo, hi, line + 1):
            raise self.error(bad, "unexpected data in NAME section (expected a section header)")

    def section_objsense(self, line, header, lo, hi):
        values = [(line, header[1:])] if len(header) > 1 else []
        values += [(n, text.split()) for n, text in self.lines(lo, hi, line + 1)]
        if not values:
            raise self.error(line, "OBJSENSE without MAX or MIN")
        for n, tokens in values:
            word = _decode(tokens[0]).upper()
            if len(tokens) != 1 or word not in _SENSES:
                raise self.error(n, f"bad OBJSENSE {_decode(b' '.join(tokens))!r} "
                                    "(expected MAX, MAXIMIZE, MIN or MINIMIZE)")
            self.sense = _SENSES[word]

    # ------------------------------------------------------------------ ROWS
    def section_rows(self, line, header, lo, hi):
        types = []
        extra_n = []
        for n, text in self.lines(lo, hi, line + 1):
            tokens = text.split()
            if len(tokens) != 2 or len(tokens[0]) != 1:
                spans = _fixed_fields(text)
                if (spans is None or spans[0] is None or spans[1] is None
                        or any(spans[2:])):
                    raise self.error(n, self._unknown_section(text) or
                                     f"ROWS line must have 2 fields (type name), "
                                     f"found {len(tokens)}")
                tokens = [text[a:b] for a, b in spans[:2]]
            kind, name = tokens
            if kind not in (b"N", b"E", b"L", b"G"):
                raise self.error(n, f"bad row type {_show(kind)} for row {_show(name)} "
                                    "(expected N, E, L or G)")
            if name in self.row_index:
                raise self.error(n, f"duplicate row name {_show(name)}")
            if kind == b"N":
                if self.objective_row is None:
                    self.objective_row = name
                    self.row_index[name] = _OBJECTIVE
                else:
                    self.row_index[name] = _FREE_ROW
                    extra_n.append(_decode(name))
                continue
            self.row_index[name] = len(self.row_names)
            self.row_names.append(name)
            types.append(kind)
        if extra_n:
            self.warn(f"{len(extra_n)} extra N row(s) dropped with their entries: "
                      f"{', '.join(extra_n[:10])}{' ...' if len(extra_n) > 10 else ''}")
        self.row_type = np.frombuffer(b"".join(types), dtype="S1")
        self.rows = _NameTable(self, self.row_index)
        m = len(self.row_names)
        self.rhs = np.zeros(m)
        self.rhs_line = np.zeros(m, dtype=np.int64)
        self.row_range = np.full(m, np.nan)
        self.range_line = np.zeros(m, dtype=np.int64)
        self.objective_constant = 0.0

    def _unknown_section(self, text):
        if text[:1].strip() and len(text.split()) == 1:
            return f"unknown section {_show(text.split()[0])}"
        return None

    # ------------------------------------------------------------------ pair sections
    def pairs(self, chunk, section, layouts, expected, special=()):
        """Entries of a chunk whose lines are `[lead] name value [name value]`."""
        counts = chunk.counts
        lead = np.zeros(chunk.nlines, dtype=np.int64)
        npairs = np.zeros(chunk.nlines, dtype=np.int64)
        for count, (has_lead, k) in layouts.items():
            mask = counts == count
            lead[mask] = has_lead
            npairs[mask] = k
        if len(special):
            npairs[special] = 0
        regular = np.flatnonzero(npairs)
        p = npairs[regular]
        line = np.repeat(regular, p)
        k = np.arange(len(line)) - np.repeat(np.cumsum(p) - p, p)
        first = chunk.first[line]
        has_lead = lead[line]
        name_tok = first + has_lead + 2 * k
        no_lead = np.full(len(line), -1, dtype=np.int64)
        parts = [_Entries(line=line, k=k,
                          lead_s=np.where(has_lead == 1, chunk.ts[first], no_lead),
                          lead_e=np.where(has_lead == 1, chunk.te[first], no_lead),
                          name_s=chunk.ts[name_tok], name_e=chunk.te[name_tok],
                          val_s=chunk.ts[name_tok + 1], val_e=chunk.te[name_tok + 1])]
        irregular = np.flatnonzero((counts > 0) & (npairs == 0))
        if len(special):
            irregular = np.setdiff1d(irregular, special)
        for i in irregular.tolist():
            entries = self.fixed_pairs(chunk, i, section)
            if entries is None:
                text = chunk.text(self, i)
                raise self.error(chunk.line0 + i, self._unknown_section(text) or
                                 f"{section} line must have {expected}, found {counts[i]} fields")
            parts.append(entries)
        return _Entries.concat(parts)

    def fixed_pairs(self, chunk, i, section):
        text = chunk.text(self, i)
        spans = _fixed_fields(text)
        if spans is None or spans[0] is not None or spans[2] is None or spans[3] is None:
            return None
        if section in ("COLUMNS", "QUADOBJ", "QMATRIX", "QSECTION") and spans[1] is None:
            return None
        pairs = [(spans[2], spans[3])]
        if spans[4] is not None or spans[5] is not None:
            if spans[4] is None or spans[5] is None:
                return None
            pairs.append((spans[4], spans[5]))
        base = int(chunk.line_start[i])
        lead = (base + spans[1][0], base + spans[1][1]) if spans[1] else (-1, -1)
        return _Entries(line=[i] * len(pairs), k=list(range(len(pairs))),
                        lead_s=[lead[0]] * len(pairs), lead_e=[lead[1]] * len(pairs),
                        name_s=[base + a for (a, _), _ in pairs],
                        name_e=[base + b for (_, b), _ in pairs],
                        val_s=[base + a for _, (a, _) in pairs],
                        val_e=[base + b for _, (_, b) in pairs])

    def resolve(self, chunk, entries, section, names, what, allow_inf, leads=None):
        """Codes of names (and leads) and the values; failed lines are retried as fixed format."""
        codes = names.find(entries.name_s, entries.name_e)
        vals, messages = self.values(entries.val_s, entries.val_e, allow_inf, section)
        lead_codes = leads.find(entries.lead_s, entries.lead_e) if leads is not None else None
        bad = codes == _UNKNOWN
        if lead_codes is not None:
            bad |= lead_codes == _UNKNOWN
        if messages is not None:
            bad[list(messages)] = True
        if not bad.any():
            return entries, codes, vals, lead_codes
        keep = ~np.isin(entries.line, entries.line[bad])
        parts = [entries.take(np.flatnonzero(keep))]
        for i in np.unique(entries.line[bad]).tolist():
            retry = self.fixed_pairs(chunk, i, section)
            if retry is not None:
                r_codes = names.find(retry.name_s, retry.name_e)
                _, r_msg = self.values(retry.val_s, retry.val_e, allow_inf, section)
                r_ok = (r_codes != _UNKNOWN).all() and r_msg is None
                if leads is not None:
                    r_ok = r_ok and (leads.find(retry.lead_s, retry.lead_e) != _UNKNOWN).all()
                if r_ok:
                    parts.append(retry)
                    continue
            j = int(np.flatnonzero(bad & (entries.line == i))[0])
            if lead_codes is not None and lead_codes[j] == _UNKNOWN:
                name = self.data[entries.lead_s[j]:entries.lead_e[j]]
                message = f"unknown {what} {_show(name)} in {section}"
            elif codes[j] == _UNKNOWN:
                name = self.data[entries.name_s[j]:entries.name_e[j]]
                message = f"unknown {what} {_show(name)} in {section}"
            else:
                message = messages[j]
            raise self.error(chunk.line0 + i, message)
        return self.resolve(chunk, _Entries.concat(parts), section, names, what, allow_inf, leads)

    # ------------------------------------------------------------------ COLUMNS
    def section_columns(self, line, header, lo, hi):
        for chunk in self.chunks(lo, hi, line + 1):
            special = self.marker_lines(chunk)
            entries = self.pairs(chunk, "COLUMNS", {3: (1, 1), 5: (1, 2)},
                                 "3 or 5 fields (column row value [row value])", special)
            entries, rows, vals, _ = self.resolve(chunk, entries, "COLUMNS", self.rows, "row",
                                                  allow_inf=False)
            if not len(entries):
                continue
            cols = self.column_indices(chunk, entries)
            nonzero = vals != 0
            in_a = nonzero & (rows >= 0)
            self.a_parts.append((rows[in_a], cols[in_a], vals[in_a]))
            in_c = nonzero & (rows == _OBJECTIVE)
            self.c_parts.append((cols[in_c], vals[in_c], entries.line[in_c] + chunk.line0))
        self.finish_columns()

    def marker_lines(self, chunk):
        lo, hi = int(chunk.line_start[0]), int(chunk.line_end[-1])
        if self.data.find(b"'MARKER'", lo, hi) < 0:
            return np.zeros(0, dtype=np.int64)
        found = [m.start() for m in re.finditer(rb"'MARKER'", self.data[lo:hi])]
        lines = np.unique(np.searchsorted(chunk.line_start - lo, found, side="right") - 1)
        lines = lines[chunk.counts[lines] > 0]
        for i in lines.tolist():
            tokens = chunk.text(self, i).split()
            n = chunk.line0 + i
            if len(tokens) != 3 or tokens[1] != b"'MARKER'":
                raise self.error(n, "MARKER line must be: name 'MARKER' 'INTORG' (or 'INTEND')")
            kind = tokens[2]
            inside = len(self.markers) % 2 == 1
            if kind == b"'INTORG'" and not inside or kind == b"'INTEND'" and inside:
                self.markers.append(n)
            else:
                expected = "'INTEND'" if inside else "'INTORG'"
                raise self.error(n, f"bad MARKER {_show(kind)} (expected {expected})")
        return lines

    def column_indices(self, chunk, entries):
        lengths = entries.lead_e - entries.lead_s
        data = self.data
        if lengths.max() <= _PAD:
            width = max(8, -(-int(lengths.max()) // 8) * 8)
            words = self.keys(entries.lead_s, lengths, width)
            same = (words[1:] == words[:-1]).all(axis=1) & (lengths[1:] == lengths[:-1])
        else:
            names = [data[a:b] for a, b in zip(entries.lead_s.tolist(), entries.lead_e.tolist())]
            same = np.array([x == y for x, y in zip(names[1:], names[:-1])], dtype=bool)
        first = data[entries.lead_s[0]:entries.lead_e[0]]
        new = np.concatenate(([first != self.last_col], ~same))
        base = len(self.col_names)
        at = np.flatnonzero(new)
        names = [data[a:b] for a, b in zip(entries.lead_s[at].tolist(),
                                            entries.lead_e[at].tolist())]
        lines = (entries.line[at] + chunk.line0).tolist()
        if len(set(names)) < len(names) or not self.col_index.keys().isdisjoint(names):
            seen = set(self.col_index)
            for name, n in zip(names, lines):
                if name in seen:
                    raise self.error(n, f"column {_show(name)} appears again after other columns "
                                        "(the COLUMNS lines of a column must be contiguous)")
                seen.add(name)
        self.col_index.update(zip(names, range(base, base + len(names))))
        self.col_names.extend(names)
        self.col_first_line.extend(lines)
        self.last_col = data[entries.lead_s[-1]:entries.lead_e[-1]]
        return base - 1 + np.cumsum(new)

    def finish_columns(self):
        if self.columns_read:
            return
        self.columns_read = True
        n = len(self.col_names)
        m = len(self.row_names)
        self.cols = _NameTable(self, self.col_index)
        self.bound_types = _NameTable(self, {t.encode(): i for i, t in enumerate(_BOUND_TYPES)})
        first_line = np.asarray(self.col_first_line, dtype=np.int64)
        markers = np.asarray(self.markers, dtype=np.int64)
        self.integer = np.searchsorted(markers, first_line) % 2 == 1
        self.col_lower = np.zeros(n)
        self.col_upper = np.full(n, np.inf)
        self.bound_line = np.zeros(n, dtype=np.int64)
        self.explicit_bounds = np.zeros(n, dtype=bool)

        if self.c_parts:
            c_cols, c_vals, c_lines = (np.concatenate(x) for x in zip(*self.c_parts))
        else:
            c_cols, c_vals, c_lines = np.zeros(0, np.int64), np.zeros(0), np.zeros(0, np.int64)
        unique, first = np.unique(c_cols, return_index=True)
        self.c = np.zeros(n)
        self.c[unique] = c_vals[first]
        if len(unique) < len(c_cols):
            self.warn(f"{len(c_cols) - len(unique)} duplicate objective entries in COLUMNS "
                      "ignored (the first value of each is kept)")
        huge = np.flatnonzero(np.abs(c_vals[first]) >= INFINITE_VALUE)
        if len(huge):
            j = int(huge[0])
            raise self.error(int(c_lines[first[j]]),
                             f"objective coefficient {c_vals[first[j]]!r} of column "
                             f"{_show(self.col_names[unique[j]])} counts as infinite "
                             f"(|c| >= {INFINITE_VALUE:g}), which is not supported")

        if self.a_parts:
            rows, cols, vals = (np.concatenate(x) for x in zip(*self.a_parts))
        else:
            rows, cols, vals = np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0)
        self.a_parts = []
        indptr = np.searchsorted(cols, np.arange(n + 1))
        A = sp.csc_matrix((vals.copy(), rows.copy(), indptr), shape=(m, n))
        A.sort_indices()
        inner = np.ones(max(A.nnz - 1, 0), dtype=bool)
        boundaries = indptr[1:-1] - 1
        inner[boundaries[(boundaries >= 0) & (boundaries < len(inner))]] = False
        duplicate = (np.diff(A.indices) == 0) & inner
        if duplicate.any():
            key = cols * max(m, 1) + rows
            order = np.argsort(key, kind="stable")
            sorted_key = key[order]
            keep = np.sort(order[np.concatenate(([True], sorted_key[1:] != sorted_key[:-1]))])
            k = int(np.flatnonzero(duplicate)[0])
            j = int(np.searchsorted(indptr, k, side="right") - 1)
            self.warn(f"{len(key) - len(keep)} duplicate entries in COLUMNS ignored (the first "
                      f"value of each is kept), e.g. column {_show(self.col_names[j])} row "
                      f"{_show(self.row_names[A.indices[k]])}")
            rows, cols, vals = rows[keep], cols[keep], vals[keep]
            indptr = np.searchsorted(cols, np.arange(n + 1))
            A = sp.csc_matrix((vals, rows, indptr), shape=(m, n))
        self.A = A

    # ------------------------------------------------------------------ RHS and RANGES
    def _row_values(self, line, lo, hi, section):
        parts = []
        for chunk in self.chunks(lo, hi, line + 1):
            entries = self.pairs(chunk, section, {2: (0, 1), 3: (1, 1), 4: (0, 2), 5: (1, 2)},
                                 "2 to 5 fields ([set] row value [row value])")
            entries, rows, vals, _ = self.resolve(chunk, entries, section, self.rows, "row",
                                                  allow_inf=True)
            parts.append((rows, vals, entries.line + chunk.line0))
        if not parts:
            return np.zeros(0, np.int64), np.zeros(0), np.zeros(0, np.int64)
        rows, vals, lines = (np.concatenate(x) for x in zip(*parts))
        keep = np.flatnonzero(rows != _FREE_ROW)
        rows, vals, lines = rows[keep], vals[keep], lines[keep]
        unique, first = np.unique(rows, return_index=True)
        if len(unique) < len(rows):
            self.warn(f"{len(rows) - len(unique)} duplicate {section} entries ignored "
                      "(the first value of each row is kept)")
        return rows[first], vals[first], lines[first]

    def section_rhs(self, line, header, lo, hi):
        rows, vals, lines = self._row_values(line, lo, hi, "RHS")
        objective = rows == _OBJECTIVE
        if objective.any():
            k = int(np.flatnonzero(objective)[0])
            if not np.isfinite(vals[k]):
                raise self.error(int(lines[k]), "the objective constant must be finite")
            self.objective_constant = -float(vals[k])
        rows, vals, lines = rows[~objective], vals[~objective], lines[~objective]
        vals = np.where(np.abs(vals) >= INFINITE_VALUE, np.copysign(np.inf, vals), vals)
        self.rhs[rows] = vals
        self.rhs_line[rows] = lines

    def section_ranges(self, line, header, lo, hi):
        rows, vals, lines = self._row_values(line, lo, hi, "RANGES")
        if (rows == _OBJECTIVE).any():
            k = int(np.flatnonzero(rows == _OBJECTIVE)[0])
            raise self.error(int(lines[k]), "RANGES entry for the objective row "
                                            f"{_show(self.objective_row)}")
        self.row_range[rows] = np.where(np.abs(vals) >= INFINITE_VALUE, np.inf, vals)
        self.range_line[rows] = lines

    # ------------------------------------------------------------------ BOUNDS
    def section_bounds(self, line, header, lo, hi):
        parts = [self.bound_entries(chunk) for chunk in self.chunks(lo, hi, line + 1)]
        kind, j, value, lines = (np.concatenate(x) for x in zip(*parts)) if parts else \
            (np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0), np.zeros(0, np.int64))
        n = len(self.col_names)
        lower, upper = _SETS_LOWER[kind], _SETS_UPPER[kind]
        clash = (np.bincount(j[lower], minlength=n) > 1) | (np.bincount(j[upper], minlength=n) > 1)
        seq = clash[j]
        fast = ~seq
        state = dict(has_lower=np.zeros(n, dtype=bool), has_upper=np.zeros(n, dtype=bool),
                     negative_up=np.zeros(n, dtype=np.int64), duplicates=[])
        k, jj, v, ln = kind[fast], j[fast], value[fast], lines[fast]
        low, up = _SETS_LOWER[k], _SETS_UPPER[k]
        self.col_lower[jj[low]] = np.select([k == _BV, k == _FR, k == _MI], [0.0, -np.inf, -np.inf],
                                            v)[low]
        self.col_upper[jj[up]] = np.select([k == _BV, k == _FR, k == _PL], [1.0, np.inf, np.inf],
                                           v)[up]
        state["has_lower"][jj[low]] = True
        state["has_upper"][jj[up]] = True
        negative = np.isin(k, (_UP, _UI)) & (v < 0)
        state["negative_up"][jj[negative]] = ln[negative]
        for args in zip(kind[seq].tolist(), j[seq].tolist(), value[seq].tolist(),
                        lines[seq].tolist()):
            self._apply_bound(state, *args)
        applied = np.ones(len(kind), dtype=bool)
        applied[np.flatnonzero(seq)[np.isin(lines[seq], state["duplicates"])]] = False
        self.integer[j[applied & np.isin(kind, (_BV, _LI, _UI))]] = True
        self.explicit_bounds[j] = True
        np.maximum.at(self.bound_line, j[applied], lines[applied])
        integral = np.isin(kind, (_LI, _UI))
        fractional = lines[integral & applied & np.isfinite(value) & (value != np.floor(value))]
        if state["duplicates"]:
            self.warn(f"{len(state['duplicates'])} BOUNDS entries set a bound that an earlier "
                      f"entry already set and were ignored (first at line "
                      f"{min(state['duplicates'])})")
        if len(fractional):
            self.warn(f"{len(fractional)} LI/UI bounds are not integral "
                      f"(first at line {int(fractional.min())})")
        negative_up = state["negative_up"]
        negative = np.flatnonzero((negative_up > 0) & ~state["has_lower"])
        if len(negative):
            self.col_lower[negative] = -np.inf
            names = ", ".join(_decode(self.col_names[j]) for j in negative[:10].tolist())
            self.warn(f"{len(negative)} column(s) have a negative UP bound and no lower bound; "
                      f"their lower bound is set to -inf (first at line "
                      f"{int(negative_up[negative].min())}): {names}"
                      f"{' ...' if len(negative) > 10 else ''}")

    def _apply_bound(self, state, kind, j, value, ln):
        """One BOUNDS entry of a column that has several, in file order (HiGHS's rule)."""
        lower, upper = _SETS_LOWER[kind], _SETS_UPPER[kind]
        if (lower and state["has_lower"][j]) or (upper and state["has_upper"][j]):
            state["duplicates"].append(ln)
            return
        if lower:
            self.col_lower[j] = {_BV: 0.0, _FR: -np.inf, _MI: -np.inf}.get(kind, value)
            state["has_lower"][j] = True
        if upper:
            self.col_upper[j] = {_BV: 1.0, _FR: np.inf, _PL: np.inf}.get(kind, value)
            state["has_upper"][j] = True
            if kind in (_UP, _UI) and value < 0:
                state["negative_up"][j] = ln

    def bound_entries(self, chunk):
        """(kind code, column, value, line) of the BOUNDS lines of a chunk, in file order."""
        lines = np.flatnonzero(chunk.counts > 0)
        counts = chunk.counts[lines]
        first = chunk.first[lines]
        kind = self.bound_types.find(chunk.ts[first], chunk.te[first])
        with_value = _HAS_VALUE[np.maximum(kind, 0)] & (kind >= 0)
        col_tok = np.select([with_value & (counts == 4), with_value & (counts == 3),
                             ~with_value & (counts == 2), ~with_value & (counts >= 3)
                             & (counts <= 4)], [first + 2, first + 1, first + 1, first + 2], -1)
        col_tok[kind < 0] = -1
        ok = col_tok >= 0
        col = np.full(len(lines), _UNKNOWN, dtype=np.int64)
        col[ok] = self.cols.find(chunk.ts[col_tok[ok]], chunk.te[col_tok[ok]])
        retry = ok & ~with_value & (counts == 3) & (col == _UNKNOWN)
        col[retry] = self.cols.find(chunk.ts[first[retry] + 1], chunk.te[first[retry] + 1])
        ok &= col != _UNKNOWN
        value = np.zeros(len(lines))
        valued = np.flatnonzero(ok & with_value)
        value[valued], errors = self.values(chunk.ts[col_tok[valued] + 1],
                                            chunk.te[col_tok[valued] + 1], True, "BOUNDS")
        if errors:
            ok[valued[list(errors)]] = False
        value = np.where(np.abs(value) >= INFINITE_VALUE, np.copysign(np.inf, value), value)
        wrong_way = (np.isin(kind, (_LO, _LI, _FX)) & (value == np.inf)) | \
            (np.isin(kind, (_UP, _UI, _FX)) & (value == -np.inf))
        ok &= ~wrong_way
        slow = np.flatnonzero(~ok)
        line_numbers = lines + chunk.line0
        if not len(slow):
            return kind, col, value, line_numbers
        for i in slow.tolist():
            kind[i], col[i], value[i] = self._bound_entry(int(line_numbers[i]),
                                                          chunk.text(self, int(lines[i])))
        return kind, col, value, line_numbers

    def _bound_entry(self, ln, text):
        """(bound type code, column index, value) of one BOUNDS line."""
        tokens = text.split()
        kind = _decode(tokens[0])
        if kind == "SC":
            raise self.error(ln, "semi-continuous bounds (SC) are not supported")
        if kind == "SI":
            raise self.error(ln, "semi-integer bounds (SI) are not supported")
        if kind not in _BOUND_TYPES:
            raise self.error(ln, self._unknown_section(text) or
                             f"bad bound type {kind!r} (expected one of {', '.join(_BOUND_TYPES)})")
        free = self._bound_tokens(kind, tokens)
        if free is not None and free[0] in self.col_index:
            return self._bound_value(ln, kind, free)
        spans = _fixed_fields(text)
        if spans is not None and spans[2] is not None and not any(spans[4:]):
            fixed = (text[slice(*spans[2])], text[slice(*spans[3])] if spans[3] else None)
            if fixed[0] in self.col_index and (fixed[1] is not None or kind not in _VALUE_BOUNDS):
                return self._bound_value(ln, kind, fixed)
        if kind in _VALUE_BOUNDS and len(tokens) == 3 and tokens[2] in self.col_index:
            raise self.error(ln, f"{kind} bound for column {_show(tokens[2])} has no value")
        if free is None:
            need = "type [set] column value" if kind in _VALUE_BOUNDS else "type [set] column"
            raise self.error(ln, f"BOUNDS line must have the fields: {need}, "
                                 f"found {len(tokens)} fields")
        raise self.error(ln, f"unknown column {_show(free[0])} in BOUNDS")

    def _bound_tokens(self, kind, tokens):
        n = len(tokens)
        if kind in _VALUE_BOUNDS:
            if n == 4:
                return tokens[2], tokens[3]
            if n == 3:
                return tokens[1], tokens[2]
            return None
        if n == 2:
            return tokens[1], None
        if n == 3:
            if tokens[2] in self.col_index or tokens[1] not in self.col_index:
                return tokens[2], None
            return tokens[1], None
        if n == 4:
            return tokens[2], None
        return None

    def _bound_value(self, ln, kind, fields):
        name, text = fields
        j = self.col_index[name]
        code = _BOUND_TYPES.index(kind)
        if kind not in _VALUE_BOUNDS:
            return code, j, 0.0
        value, message = _number(text, allow_inf=True)
        if message is not None:
            raise self.error(ln, f"{message} in BOUNDS")
        if abs(value) >= INFINITE_VALUE:
            value = np.copysign(np.inf, value)
        if (kind in ("LO", "LI", "FX") and value == np.inf) or \
                (kind in ("UP", "UI", "FX") and value == -np.inf):
            raise self.error(ln, f"{kind} bound {_decode(text)} on column {_show(name)} "
                                 "is infinite in the wrong direction")
        return code, j, value

    # ------------------------------------------------------------------ quadratic objective
    def section_quadobj(self, line, header, lo, hi):
        self._quadratic(line, lo, hi, "QUADOBJ", "triangle")

    def section_qmatrix(self, line, header, lo, hi):
        self._quadratic(line, lo, hi, "QMATRIX", "full")

    def section_qsection(self, line, header, lo, hi):
        if len(header) != 2:
            raise self.error(line, "QSECTION needs one row name (QSECTION <objective row>)")
        row = self.row_index.get(header[1], _UNKNOWN)
        if row == _UNKNOWN:
            raise self.error(line, f"unknown row {_show(header[1])} in QSECTION")
        if row >= 0:
            raise self.error(line, f"quadratic constraints are not supported (QSECTION "
                                   f"{_decode(header[1])})")
        if row == _FREE_ROW:
            self.warn(f"QSECTION of the dropped N row {_show(header[1])} ignored", line)
            return
        self._quadratic(line, lo, hi, "QSECTION", "triangle")

    def _quadratic(self, line, lo, hi, section, kind):
        for chunk in self.chunks(lo, hi, line + 1):
            entries = self.pairs(chunk, section, {3: (1, 1), 5: (1, 2)},
                                 "3 or 5 fields (column column value [column value])")
            entries, rows, vals, cols = self.resolve(chunk, entries, section, self.cols, "column",
                                                     allow_inf=False, leads=self.cols)
            nonzero = vals != 0
            self.q_parts[kind].append((rows[nonzero], cols[nonzero], vals[nonzero],
                                       entries.line[nonzero] + chunk.line0))

    def quadratic(self):
        n = len(self.col_names)
        total = None
        lower_keys = []
        for kind, parts in self.q_parts.items():
            if not parts:
                continue
            rows, cols, vals, lines = (np.concatenate(x) for x in zip(*parts))
            if kind == "triangle":
                rows, cols = np.maximum(rows, cols), np.minimum(rows, cols)
            lower = rows >= cols
            lower_keys.append(rows[lower] * n + cols[lower])
            M = sp.coo_matrix((vals, (rows, cols)), shape=(n, n)).tocsr()
            if kind == "triangle":
                M = M + sp.triu(M.T, k=1, format="csr")
            else:
                asym = (M - M.T).tocoo()
                asym.eliminate_zeros()
                if asym.nnz:
                    i, j = int(asym.row[0]), int(asym.col[0])
                    hit = np.flatnonzero(((rows == i) & (cols == j)) | ((rows == j) & (cols == i)))
                    raise self.error(int(lines[hit].max()),
                                     f"QMATRIX is not symmetric: entry "
                                     f"({_decode(self.col_names[i])}, {_decode(self.col_names[j])})"
                                     f" = {M[i, j]!r} but "
                                     f"({_decode(self.col_names[j])}, {_decode(self.col_names[i])})"
                                     f" = {M[j, i]!r}")
            total = M if total is None else total + M
        keys = np.concatenate(lower_keys) if lower_keys else np.zeros(0, np.int64)
        duplicates = len(keys) - len(np.unique(keys))
        if duplicates:
            self.warn(f"{duplicates} duplicate quadratic objective entries were summed")
        return total

    # ------------------------------------------------------------------ result
    def row_bounds(self):
        t = self.row_type
        rhs = self.rhs
        lower = np.where(t == b"L", -np.inf, rhs)
        upper = np.where(t == b"G", np.inf, rhs)
        r = np.abs(self.row_range)
        has = ~np.isnan(self.row_range)
        up = has & ((t == b"G") | ((t == b"E") & (self.row_range > 0)))
        down = has & ((t == b"L") | ((t == b"E") & (self.row_range < 0)))
        with np.errstate(invalid="ignore"):
            upper[up] = rhs[up] + r[up]
            lower[down] = rhs[down] - r[down]
        bad = np.flatnonzero(np.isnan(lower) | np.isnan(upper) | (lower == np.inf)
                             | (upper == -np.inf))
        if len(bad):
            i = int(bad[0])
            ln = int(max(self.rhs_line[i], self.range_line[i])) or None
            raise self.error(ln, f"row {_show(self.row_names[i])} gets the impossible bounds "
                                 f"[{lower[i]!r}, {upper[i]!r}] from its RHS and RANGES")
        return lower, upper

    def build(self) -> Problem:
        binary = self.integer & ~self.explicit_bounds
        self.col_upper[binary] = 1.0
        crossed = np.flatnonzero(self.col_lower > self.col_upper)
        if len(crossed):
            j = int(crossed[0])
            raise self.error(int(self.bound_line[j]) or None,
                             f"bounds of column {_show(self.col_names[j])} cross: lower "
                             f"{self.col_lower[j]!r} > upper {self.col_upper[j]!r}")
        row_lower, row_upper = self.row_bounds()
        try:
            return Problem(self.c, self.A.tocsr(), row_lower, row_upper, self.col_lower,
                           self.col_upper, Q=self.quadratic(),
                           objective_constant=self.objective_constant, sense=self.sense,
                           integrality=self.integer, name=self.name,
                           row_names=[_decode(r) for r in self.row_names],
                           col_names=[_decode(c) for c in self.col_names])
        except ProblemError as exc:
            raise self.error(None, str(exc)) from None


# ---------------------------------------------------------------------- writer
def _safe_names(names, count, prefix):
    if names is not None and len(names) == count and len(set(names)) == count:
        if "\n".join(names).split() == list(names) and not any("'MARKER'" in s for s in names):
            return list(names)
    return [f"{prefix}{i}" for i in range(count)]


def _fmt(values):
    """Shortest round-trip text of each value, as an object array of str."""
    values = np.asarray(values, dtype=np.float64).ravel()
    if values.size > 4096:
        sample = values[::values.size // 4096]
        if len(np.unique(sample)) < len(sample) // 2:
            unique, inverse = np.unique(values, return_inverse=True)
            return _fmt(unique)[inverse]
    return np.fromiter(map(repr, values.tolist()), dtype=object, count=values.size)


def _join_lines(*columns):
    """One line per row of the given columns (arrays or scalars), fields joined as given."""
    sizes = [len(c) for c in columns if not isinstance(c, str)]
    rows = sizes[0] if sizes else 0
    table = np.empty((rows, len(columns) + 1), dtype=object)
    for i, col in enumerate(columns):
        table[:, i] = col
    table[:, -1] = "\n"
    return "".join(table.ravel().tolist())


def _range_form(lo, hi):
    """For two-sided rows: (use_G, range) whose reading (lo + range or hi - range) is closest."""
    use_g = np.ones(len(lo), dtype=bool)
    best = hi - lo
    error = np.full(len(lo), np.inf)
    for direction in (np.inf, -np.inf):
        r = hi - lo
        for _ in range(5):
            for g, got, want in ((True, lo + r, hi), (False, hi - r, lo)):
                with np.errstate(over="ignore"):
                    e = np.abs(got - want) / np.spacing(np.abs(want))
                better = e < error
                error[better], best[better], use_g[better] = e[better], r[better], g
            r = np.nextafter(r, direction)
    return use_g, best


def write_mps(problem: Problem, path) -> None:
    """Write `problem` as free MPS (gzip-compressed when `path` ends in `.gz`); see module docs."""
    p = problem
    m, n = p.num_rows, p.num_cols
    rows = _safe_names(p.row_names, m, "R")
    cols = _safe_names(p.col_names, n, "C")
    taken = set(rows)
    obj = next(s for s in ("obj", *(f"obj{i}" for i in range(m + 1))) if s not in taken)
    finite_values = np.concatenate([v[np.isfinite(v)] for v in
                                    (p.row_lower, p.row_upper, p.col_lower, p.col_upper)])
    if finite_values.size and np.abs(finite_values).max() >= INFINITE_VALUE:
        warnings.warn(f"write_mps({os.fspath(path)!r}): bounds with |value| >= "
                      f"{INFINITE_VALUE:g} will read back as infinite", stacklevel=2)
    name = "_".join(p.name.split())
    parts = [f"NAME {name}\n" if name else "NAME\n"]
    if p.sense == "max":
        parts.append("OBJSENSE\n    MAX\n")
    lo, hi = p.row_lower, p.row_upper
    kind = np.full(m, "E", dtype=object)
    rhs = lo.copy()
    two_sided = np.isfinite(lo) & np.isfinite(hi) & (lo < hi)
    use_g, rng = _range_form(lo[two_sided], hi[two_sided])
    kind[np.isfinite(lo) & (hi == np.inf)] = "G"
    kind[(lo == -np.inf) & np.isfinite(hi)] = "L"
    kind[(lo == -np.inf) & (hi == np.inf)] = "G"
    ranged = np.flatnonzero(two_sided)
    kind[ranged] = np.where(use_g, "G", "L")
    rhs = np.where(kind == "L", hi, lo)
    rhs[(lo == -np.inf) & (hi == np.inf)] = -1e30
    parts.append("ROWS\n")
    parts.append(f" N  {obj}\n")
    parts.append(_join_lines(" ", kind, "  ", np.array(rows, dtype=object)))
    parts.append("COLUMNS\n")
    parts.append(_columns_text(p, rows, cols, obj))
    rhs_rows = np.flatnonzero(rhs != 0)
    rhs_text = _join_lines("    RHS  ", np.array(rows, dtype=object)[rhs_rows], "  ",
                           _fmt(rhs[rhs_rows]))
    if p.objective_constant != 0 or rhs_text:
        parts.append("RHS\n")
        if p.objective_constant != 0:
            parts.append(f"    RHS  {obj}  {-p.objective_constant!r}\n")
        parts.append(rhs_text)
    if len(ranged):
        parts.append("RANGES\n")
        parts.append(_join_lines("    RNG  ", np.array(rows, dtype=object)[ranged], "  ",
                                 _fmt(rng)))
    bounds = _bounds_text(p, cols)
    if bounds:
        parts.append("BOUNDS\n")
        parts.append(bounds)
    if p.Q is not None:
        upper = sp.triu(p.Q if sp.issparse(p.Q) else p.Q.tocsr(), format="coo")
        names = np.array(cols, dtype=object)
        parts.append("QUADOBJ\n")
        parts.append(_join_lines("    ", names[upper.row], "  ", names[upper.col], "  ",
                                 _fmt(upper.data)))
    parts.append("ENDATA\n")
    opener = gzip.open if os.fspath(path).endswith(".gz") else open
    kwargs = {"compresslevel": 6} if opener is gzip.open else {}
    with opener(path, "wb", **kwargs) as f:
        for part in parts:
            f.write(part.encode("utf-8", "surrogateescape"))


def _columns_text(p, rows, cols, obj):
    """COLUMNS lines, two entries per line, objective entry first, MARKER lines around integers."""
    n = p.num_cols
    A = p.A.tocsc()
    A.sort_indices()
    nnz = np.diff(A.indptr)
    has_obj = (p.c != 0) | (nnz == 0)
    count = nnz + has_obj
    start = np.cumsum(count) - count
    total = int(count.sum())
    row_name = np.empty(total, dtype=object)
    value = np.zeros(total)
    row_name[start[has_obj]] = obj
    value[start[has_obj]] = p.c[has_obj]
    col_of_entry = np.repeat(np.arange(n), nnz)
    a_pos = (start + has_obj - A.indptr[:-1])[col_of_entry] + np.arange(A.nnz)
    row_name[a_pos] = np.array(rows, dtype=object)[A.indices]
    value[a_pos] = A.data
    text = _fmt(value)
    entry_col = np.repeat(np.arange(n), count)
    q = np.arange(total) - start[entry_col]
    first = np.flatnonzero(q % 2 == 0)
    line_col = entry_col[first]
    paired = np.flatnonzero(q[first] + 1 < count[line_col])
    second = first[paired] + 1
    sep, row2, val2 = (np.full(len(first), "", dtype=object) for _ in range(3))
    sep[paired] = "  "
    row2[paired] = row_name[second]
    val2[paired] = text[second]
    integer = p.integrality
    before = np.concatenate(([False], integer[:-1]))
    prefix = np.full(len(first), "", dtype=object)
    column_start = np.flatnonzero(q[first] == 0)
    marker = np.select([integer & ~before, ~integer & before],
                       ["    MARKER  'MARKER'  'INTORG'\n", "    MARKER  'MARKER'  'INTEND'\n"], "")
    prefix[column_start] = marker[line_col[column_start]]
    lines = _join_lines(prefix, "    ", np.array(cols, dtype=object)[line_col], "  ",
                        row_name[first], "  ", text[first], sep, row2, sep, val2)
    if n and integer[-1]:
        lines += "    MARKER  'MARKER'  'INTEND'\n"
    return lines


def _bounds_text(p, cols):
    lo, hi, integer = p.col_lower, p.col_upper, p.integrality
    n = p.num_cols
    kinds, where, vals = [], [], []

    def add(mask, kind, value=None):
        idx = np.flatnonzero(mask)
        kinds.append(np.full(len(idx), kind, dtype=object))
        where.append(idx)
        vals.append(np.full(len(idx), "", dtype=object) if value is None else
                    "  " + _fmt(value[idx]))

    fixed = lo == hi
    free = (lo == -np.inf) & (hi == np.inf)
    binary = integer & (lo == 0) & (hi == 1)
    rest = ~fixed & ~free & ~binary
    whole = np.isfinite(lo) & (lo == np.round(lo)), np.isfinite(hi) & (hi == np.round(hi))
    low_name = np.where(integer & whole[0], "LI", "LO")
    up_name = np.where(integer & whole[1], "UI", "UP")
    add(fixed, "FX", lo)
    add(free, "FR")
    add(binary, "BV")
    add(rest & (lo == -np.inf), "MI")
    for name in ("LO", "LI"):
        add(rest & np.isfinite(lo) & (lo != 0) & (low_name == name), name, lo)
    for name in ("UP", "UI"):
        add(rest & np.isfinite(hi) & (up_name == name), name, hi)
    add(rest & integer & (lo == 0) & (hi == np.inf), "PL")
    if not n:
        return ""
    idx = np.concatenate(where)
    if not len(idx):
        return ""
    order = np.argsort(idx, kind="stable")
    return _join_lines(" ", np.concatenate(kinds)[order], " BND  ",
                       np.array(cols, dtype=object)[idx[order]], np.concatenate(vals)[order])
