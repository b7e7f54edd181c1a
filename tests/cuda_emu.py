"""A CPU stand-in for CuPy that runs gpulp's own CUDA kernels, so that CI (no GPU) exercises the
GPU backend end to end: the kernel sources, the host code that launches them, and the CUDA-graph
window.

    with emulated_cupy() as cp:      # sys.modules["cupy"] is the stand-in inside the block
        gpulp.solve(problem, device="gpu")

What it emulates, and what it checks on the way (each a defect on a real GPU):

* Kernels. `RawModule(code=...)` compiles the CUDA source as C++ with g++ and a small prelude
  (threadIdx / blockIdx, `__ldg`, `atomicAdd`, `atomicMax`, `__double_as_longlong`, `__shared__`,
  `__syncthreads`, `__shfl_down_sync`).
  A launch runs every block of the grid in turn; a kernel that uses a barrier or a warp shuffle
  runs its block's threads as cooperative fibers (ucontext), so barriers, shared memory and
  shuffles behave as on a GPU. A deadlock, a shuffle in a partial warp, or a barrier in divergent
  code is an error. Other kernels run thread after thread.
* Launch arguments against the kernel's parameter list (parsed from the source): their number;
  `int` must be passed as numpy.int32, `long long` as numpy.int64, `double` as numpy.float64; a
  pointer must be a C-contiguous device array of the matching dtype (double* float64,
  long long* int64, int* int32, unsigned short* uint16). A wrong grid is not checked, it simply
  gives wrong results.
* Memory. Every device allocation has guard bytes on both sides; a kernel that writes past an
  array's ends is an error. Implicit device-to-host conversion (`numpy.asarray(device_array)`)
  raises TypeError, as in CuPy, and so does mixing host arrays into device operations.
* Streams and graphs. `Stream.begin_capture()` / `end_capture()` record, rather than run, what is
  launched on the capturing stream; `Graph.launch()` replays it. Pointers and scalar arguments
  are fixed at capture, device memory is read at replay, as on a GPU. During a capture, an
  allocation, a host transfer, a synchronisation, or work on another stream is an error.
* Stream order. Each allocation remembers the stream whose work last wrote it (kernels write
  their non-const pointers; CuPy calls, copies and fills write their results). Work on another
  stream that touches it before that stream was synchronised (`Stream.synchronize`, a device
  synchronisation, an event waited for, a `get()` on it) is an error: on a GPU the two may
  overlap. The legacy null stream and a blocking stream order themselves; a non-blocking stream
  (the backend's) orders with nothing.

Not emulated: timing, concurrency between streams (the order check above stands for it),
float32 atomics' ordering, and anything beyond 1-D grids and blocks.
"""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import types
import weakref

import numpy as np

__all__ = ["EmulatorError", "emulated_cupy", "make_cupy", "compiler_missing", "parse_kernels"]


class EmulatorError(RuntimeError):
    """A defect the emulator caught (a bad launch, an out-of-bounds write, work in a capture)."""


def compiler_missing():
    """None when g++ is available, else why the emulator cannot run."""
    return None if shutil.which("g++") else "g++ is not installed (the CUDA emulator needs it)"


# ------------------------------------------------------------------------------ kernel sources
_PRELUDE = r"""
#include <cmath>
#include <cstdio>
#include <cstring>
#include <vector>
#include <setjmp.h>
#include <ucontext.h>
using std::fmin; using std::fmax; using std::sqrt; using std::fabs;

struct emu_dim3 { unsigned x, y, z; };
static emu_dim3 threadIdx, blockIdx, blockDim, gridDim;
static const int warpSize = 32;

#define __global__
#define __device__ static inline
#define __forceinline__
#define __host__
#define __restrict__ __restrict
#define __shared__ static
#define __ldg(p) (*(p))

static char emu_error[512];
static int emu_failed;

static void emu_fail(const char* msg) {
    if (!emu_failed)
        snprintf(emu_error, sizeof emu_error, "%s (block %u, thread %u)", msg, blockIdx.x,
                 threadIdx.x);
    emu_failed = 1;
}

enum { EMU_READY, EMU_WAIT_BLOCK, EMU_WAIT_WARP, EMU_DONE };
// Fibers: each starts through its ucontext (setcontext), then switches by _setjmp/_longjmp
// (no signal-mask system call per switch).
struct EmuFiber { ucontext_t ctx; jmp_buf jb; int state; int started; };
static std::vector<EmuFiber> emu_fibers;
static std::vector<char> emu_stacks;
static jmp_buf emu_sched_jb;
static int emu_cur = -1;                 // the running fiber; -1 when threads run one by one
static double emu_slots[1024];
static void (*emu_body)();
static const size_t EMU_STACK = 64 * 1024;

static void emu_wait(int kind) {
    if (emu_cur < 0) { emu_fail("a barrier in a kernel run without fibers"); return; }
    EmuFiber& f = emu_fibers[emu_cur];
    f.state = kind;
    if (_setjmp(f.jb) == 0) _longjmp(emu_sched_jb, 1);
}

static inline void __syncthreads() { emu_wait(EMU_WAIT_BLOCK); }

static inline double __shfl_down_sync(unsigned mask, double v, unsigned off) {
    unsigned t = threadIdx.x;
    if (mask != 0xffffffffu) emu_fail("__shfl_down_sync with a partial mask is not emulated");
    emu_slots[t] = v;
    emu_wait(EMU_WAIT_WARP);
    double r = ((t & 31u) + off < 32u) ? emu_slots[t + off] : v;
    emu_wait(EMU_WAIT_WARP);
    return r;
}

template <class T> static inline T atomicAdd(T* p, T v) { T old = *p; *p = old + v; return old; }
template <class T> static inline T atomicMax(T* p, T v) { T old = *p; if (v > old) *p = v; return old; }
static inline long long __double_as_longlong(double v) { long long r; memcpy(&r, &v, 8); return r; }

static void emu_fiber_main() {
    emu_body();
    emu_fibers[emu_cur].state = EMU_DONE;
    _longjmp(emu_sched_jb, 1);
}

static void emu_resume(unsigned t) {
    emu_cur = (int)t;
    threadIdx.x = t;
    if (_setjmp(emu_sched_jb) == 0) {
        EmuFiber& f = emu_fibers[t];
        if (!f.started) { f.started = 1; setcontext(&f.ctx); }
        _longjmp(f.jb, 1);
    }
}

static void emu_run_block_fibers(unsigned n) {
    if (emu_fibers.size() < n) {
        size_t old = emu_fibers.size();
        emu_fibers.resize(n);
        emu_stacks.resize(n * EMU_STACK);
        for (size_t t = 0; t < n; ++t) if (t >= old) getcontext(&emu_fibers[t].ctx);
    }
    for (unsigned t = 0; t < n; ++t) {
        EmuFiber& f = emu_fibers[t];
        f.ctx.uc_stack.ss_sp = &emu_stacks[t * EMU_STACK];
        f.ctx.uc_stack.ss_size = EMU_STACK;
        f.ctx.uc_link = nullptr;
        makecontext(&f.ctx, emu_fiber_main, 0);
        f.state = EMU_READY;
        f.started = 0;
    }
    for (;;) {
        for (unsigned t = 0; t < n && !emu_failed; ++t)
            if (emu_fibers[t].state == EMU_READY) emu_resume(t);
        if (emu_failed) break;
        unsigned live = 0, at_block = 0;
        for (unsigned t = 0; t < n; ++t) {
            int s = emu_fibers[t].state;
            live += s != EMU_DONE;
            at_block += s == EMU_WAIT_BLOCK;
        }
        if (live == 0) break;
        bool released = false;
        if (at_block == live) {                  // __syncthreads: every live thread arrived
            for (unsigned t = 0; t < n; ++t)
                if (emu_fibers[t].state == EMU_WAIT_BLOCK) emu_fibers[t].state = EMU_READY;
            released = true;
        } else {
            for (unsigned w = 0; w * 32 < n; ++w) {    // a warp whose live lanes all shuffle
                unsigned lo = w * 32, hi = lo + 32 < n ? lo + 32 : n, wl = 0, ww = 0;
                for (unsigned t = lo; t < hi; ++t) {
                    wl += emu_fibers[t].state != EMU_DONE;
                    ww += emu_fibers[t].state == EMU_WAIT_WARP;
                }
                if (wl == 0 || ww != wl) continue;
                if (wl != 32) {
                    threadIdx.x = lo;
                    emu_fail("__shfl_down_sync with a full mask while lanes of the warp have "
                             "exited or the warp is partial");
                    break;
                }
                for (unsigned t = lo; t < hi; ++t) emu_fibers[t].state = EMU_READY;
                released = true;
            }
        }
        if (emu_failed) break;
        if (!released) { emu_fail("deadlock: threads wait at different barriers"); break; }
    }
    emu_cur = -1;
}

static int emu_launch(unsigned gx, unsigned bx, int fibers, void (*body)()) {
    emu_failed = 0;
    emu_error[0] = 0;
    blockIdx.x = threadIdx.x = 0;
    if (gx == 0 || bx == 0 || bx > 1024) { emu_fail("invalid launch configuration"); return 1; }
    gridDim.x = gx; gridDim.y = gridDim.z = 1;
    blockDim.x = bx; blockDim.y = blockDim.z = 1;
    blockIdx.y = blockIdx.z = threadIdx.y = threadIdx.z = 0;
    emu_body = body;
    for (unsigned b = 0; b < gx && !emu_failed; ++b) {
        blockIdx.x = b;
        if (fibers) emu_run_block_fibers(bx);
        else for (unsigned t = 0; t < bx && !emu_failed; ++t) { threadIdx.x = t; body(); }
    }
    return emu_failed;
}

extern "C" const char* emu_last_error() { return emu_error; }

#line 1 "kernel source"
"""

_SCALARS = {"int": np.int32, "unsigned": np.uint32, "unsigned int": np.uint32,
            "long long": np.int64, "double": np.float64, "float": np.float32}
_CTYPES = {np.int32: ctypes.c_int32, np.uint32: ctypes.c_uint32, np.int64: ctypes.c_int64,
           np.float64: ctypes.c_double, np.float32: ctypes.c_float}
_POINTEES = {"double": np.float64, "float": np.float32, "long long": np.int64, "int": np.int32,
             "unsigned": np.uint32, "unsigned int": np.uint32, "unsigned short": np.uint16}


def _body(src, start):
    """The text of the brace block that opens just before `start`."""
    depth, j = 1, start
    while depth and j < len(src):
        depth += {"{": 1, "}": -1}.get(src[j], 0)
        j += 1
    return src[start:j]


def _barrier_functions(src):
    """Names of the `__device__` functions (templates too) that use a barrier or a warp shuffle,
    directly or through another such function."""
    bodies = {m.group(1): _body(src, m.end()) for m in re.finditer(
        r"__device__\s+(?:__forceinline__\s+)?[\w\s*]*?\b(\w+)\s*\([^)]*\)\s*\{", src)}
    found = {k for k, b in bodies.items() if "__syncthreads" in b or "__shfl" in b}
    while True:
        more = {k for k, b in bodies.items() if k not in found
                and any(re.search(rf"\b{f}\s*[<(]", b) for f in found)}
        if not more:
            return found
        found |= more


def parse_kernels(src):
    """{name: (params, uses_barriers)} for every `__global__ void name(...)` in `src`; params is a
    list of (C type without qualifiers, is_pointer, parameter name, C declaration). A kernel uses
    barriers when its body has a barrier or a warp shuffle, or calls a device function that does."""
    out = {}
    barrier_fns = _barrier_functions(src)
    for m in re.finditer(r"__global__\s+void\s+(\w+)\s*\(([^)]*)\)\s*\{", src):
        body = _body(src, m.end())
        params = []
        for decl in (p.strip() for p in m.group(2).split(",") if p.strip()):
            name = re.findall(r"\w+", decl)[-1]
            ctype = decl[:decl.rindex(name)].replace("__restrict__", "").strip()
            pointer = ctype.endswith("*")
            base = " ".join(ctype.rstrip("*").replace("const", " ").split())
            params.append((base, pointer, name, ctype))
        out[m.group(1)] = (params, "__syncthreads" in body or "__shfl" in body or any(
            re.search(rf"\b{f}\s*[<(]", body) for f in barrier_fns))
    return out


def _wrapper(name, params, fibers):
    args = ", ".join(f"*({ctype}*)emu_a[{i}]" for i, (_, _, _, ctype) in enumerate(params))
    return (f"static void* const* emu_args_{name};\n"
            f"static void emu_body_{name}() {{ void* const* emu_a = emu_args_{name}; "
            f"{name}({args}); }}\n"
            f'extern "C" int emu_launch_{name}(unsigned gx, unsigned bx, void** a) {{ '
            f"emu_args_{name} = a; return emu_launch(gx, bx, {int(fibers)}, emu_body_{name}); }}\n")


_LIBS = {}


def _build(src):
    """(ctypes library, parsed kernels) for a CUDA source, compiled once per source and cached
    on disk."""
    kernels = parse_kernels(src)
    code = _PRELUDE + src + "\n#line 1 \"emulator wrappers\"\n" + "".join(
        _wrapper(k, p, f) for k, (p, f) in kernels.items())
    key = hashlib.sha256(code.encode()).hexdigest()[:20]
    if key not in _LIBS:
        why = compiler_missing()
        if why:
            raise EmulatorError(why)
        cache = os.path.join(tempfile.gettempdir(), f"gpulp-cuda-emu-{os.getuid()}")
        os.makedirs(cache, exist_ok=True)
        lib = os.path.join(cache, f"{key}.so")
        if not os.path.exists(lib):
            cpp = os.path.join(cache, f"{key}.cpp")
            with open(cpp, "w") as fh:
                fh.write(code)
            tmp = f"{lib}.{os.getpid()}.tmp"
            # _longjmp between fiber stacks: no fortified (stack-checking) longjmp
            proc = subprocess.run(["g++", "-std=c++17", "-O1", "-g", "-U_FORTIFY_SOURCE",
                                   "-shared", "-fPIC", "-o", tmp, cpp],
                                  capture_output=True, text=True)
            if proc.returncode:
                raise EmulatorError(f"the kernels do not compile as C++:\n{proc.stderr[-4000:]}")
            os.replace(tmp, lib)
        dll = ctypes.CDLL(lib)
        dll.emu_last_error.restype = ctypes.c_char_p
        for k in kernels:
            fn = getattr(dll, f"emu_launch_{k}")
            fn.restype = ctypes.c_int
            fn.argtypes = [ctypes.c_uint, ctypes.c_uint, ctypes.c_void_p]
        _LIBS[key] = (dll, kernels)
    return _LIBS[key]


# ------------------------------------------------------------------------------ device arrays
_GUARD = 64                 # guard bytes on each side of an allocation
_FILL = 0xA5


def _freed(st, nbytes):
    st.live -= nbytes


class _State:
    def __init__(self):
        self.capture = None          # (stream, [recorded callables]) while capturing
        self.streams = []            # the `with stream:` stack
        self.null = None
        self.allocated = 0           # bytes allocated so far
        self.live = 0                # bytes of device arrays not yet freed
        self.allocator = None        # cuda.set_allocator's hook, called after each allocation
        self.limit = None            # raise OutOfMemoryError past this many bytes
        self.total = 80 * 2**30
        self.all_streams = []        # every stream made (a device synchronisation settles all)


class _Buf:
    """One allocation: its bytes with guards, and the stream whose work last wrote it (with that
    stream's synchronisation count then), shared by every view of it."""

    __slots__ = ("raw", "stream", "gen", "__weakref__")

    def __init__(self, raw):
        self.raw, self.stream, self.gen = raw, None, 0


def _races(a, b):
    """Work on streams a and b may overlap: different streams, unless one is the legacy null
    stream and the other a blocking stream (those two order themselves)."""
    if a is b:
        return False
    return not ((a.null and not b.non_blocking) or (b.null and not a.non_blocking))


def _current(st):
    return st.streams[-1] if st.streams else st.null


class _Cupy:
    """Builds one stand-in `cupy` module (see make_cupy)."""

    def __init__(self):
        self.st = _State()

    # ------------------------------------------------------------------ capture discipline
    def no_capture(self, what):
        if self.st.capture is not None:
            raise EmulatorError(f"{what} during a CUDA graph capture (not capturable: the graph "
                                f"would hold stale memory or skip the work)")

    def touch(self, stream, reads, writes, what):
        """Work on `stream` reads and writes these device arrays: each must not have been
        written by work on another stream that may still run (no synchronisation since), which
        on a GPU is a race. During a capture the touches are recorded for the graph's replay."""
        cap = self.st.capture
        if cap is not None and stream is not cap[0]:
            raise EmulatorError(f"{what} on another stream during a capture (the graph would "
                                f"miss it)")
        for a in list(reads) + list(writes):
            b = a._raw
            if b is None or b.stream is None:
                continue
            if b.gen == b.stream.gen and _races(b.stream, stream):
                raise EmulatorError(
                    f"{what} on {stream.label()} uses an array of shape {a.shape} last written "
                    f"by work on {b.stream.label()} with no synchronisation between: on a GPU "
                    f"the two may overlap (run both on one stream, or synchronise)")
        for a in writes:
            if a._raw is not None:
                a._raw.stream, a._raw.gen = stream, stream.gen
        if self.st.capture is not None and stream is self.st.capture[0]:
            self.st.capture[2].append((list(reads), list(writes), what))

    def submit(self, fn, stream, what):
        """Run `fn` now, or record it when `stream` is being captured."""
        cap = self.st.capture
        if cap is None:
            fn()
        elif stream is cap[0]:
            cap[1].append(fn)
        else:
            raise EmulatorError(f"{what} on another stream during a capture (the graph would "
                                f"miss it)")


def make_cupy():
    """A fresh stand-in `cupy` module (its own streams, capture state and memory counter)."""
    emu = _Cupy()
    st = emu.st
    mod = types.ModuleType("cupy")
    mod.__version__ = "emulated"
    mod.__emulated__ = True

    class OutOfMemoryError(MemoryError):
        pass

    def alloc(shape, dtype):
        dtype = np.dtype(dtype)
        count = int(np.prod(shape, dtype=np.int64))
        nbytes = count * dtype.itemsize
        if st.limit is not None and st.allocated + nbytes > st.limit:
            raise OutOfMemoryError(f"Out of memory allocating {nbytes:,} bytes (emulated "
                                   f"device with {st.limit:,} bytes)")
        emu.no_capture("an allocation")
        st.allocated += nbytes
        st.live += nbytes
        raw = np.full(nbytes + 2 * _GUARD, _FILL, dtype=np.uint8)
        arr = raw[_GUARD:_GUARD + nbytes].view(dtype).reshape(shape)
        buf = _Buf(raw)
        weakref.finalize(buf, _freed, st, nbytes)
        if st.allocator is not None:
            st.allocator(nbytes)
        return ndarray(arr, buf)

    def devs(a):
        """The device arrays inside `a` (tuples, lists and dicts too)."""
        if isinstance(a, ndarray):
            return [a]
        if isinstance(a, (list, tuple)):
            return [d for v in a for d in devs(v)]
        if isinstance(a, dict):
            return [d for v in a.values() for d in devs(v)]
        return []

    def host(a):
        """Unwrap device arrays inside `a` (tuples/lists too); reject host arrays."""
        if isinstance(a, ndarray):
            return a._a
        if isinstance(a, np.ndarray):
            raise TypeError(f"Unsupported type {type(a)} (a host array in a device operation)")
        if isinstance(a, (list, tuple)):
            return type(a)(host(v) for v in a)
        return a

    def wrap(r):
        if isinstance(r, np.ndarray):
            out = alloc(r.shape, r.dtype)
            out._a[...] = r
            return out
        if isinstance(r, np.generic):        # CuPy reductions give 0-d device arrays
            return wrap(np.asarray(r))
        if isinstance(r, tuple):
            return tuple(wrap(v) for v in r)
        return r

    def device_op(func, name):
        def op(*args, **kwargs):
            out = kwargs.get("out")
            hargs = host(list(args))
            hkw = {k: host(v) for k, v in kwargs.items()}
            inputs = devs(list(args)) + devs({k: v for k, v in kwargs.items() if k != "out"})
            if out is not None and emu.st.capture is not None:
                emu.touch(_current(st), inputs, devs(out), f"cupy.{name}")
                emu.submit(lambda: func(*hargs, **hkw), _current(st), f"cupy.{name}")
                return out[0] if isinstance(out, tuple) and len(out) == 1 else out
            emu.no_capture(f"cupy.{name} (it allocates its result)")
            r = func(*hargs, **hkw)
            if out is not None:
                emu.touch(_current(st), inputs, devs(out), f"cupy.{name}")
                return out[0] if isinstance(out, tuple) and len(out) == 1 else out
            r = wrap(r)
            emu.touch(_current(st), inputs, devs(r), f"cupy.{name}")
            return r
        op.__name__ = name
        return op

    class ndarray(np.lib.mixins.NDArrayOperatorsMixin):
        """A device array: host memory with guard bytes, no implicit conversion to NumPy."""

        __array_priority__ = 100

        def __init__(self, a, raw=None):
            self._a = a
            self._raw = raw

        # what CuPy forbids
        def __array__(self, *args, **kwargs):
            raise TypeError("Implicit conversion to a NumPy array is not allowed. Please use "
                            "`.get()` to construct a NumPy array explicitly.")

        def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
            return device_op(getattr(ufunc, method), ufunc.__name__)(*inputs, **kwargs)

        def __array_function__(self, func, types_, args, kwargs):
            return device_op(func, func.__name__)(*args, **kwargs)

        # attributes
        shape = property(lambda self: self._a.shape)
        size = property(lambda self: self._a.size)
        ndim = property(lambda self: self._a.ndim)
        dtype = property(lambda self: self._a.dtype)
        nbytes = property(lambda self: self._a.nbytes)
        T = property(lambda self: ndarray(self._a.T, self._raw))
        flags = property(lambda self: self._a.flags)

        @property
        def data(self):
            return types.SimpleNamespace(ptr=self._a.ctypes.data)

        def __len__(self):
            return len(self._a)

        def __repr__(self):
            return f"emulated_device_array({self._a!r})"

        # transfers (synchronising: not allowed in a capture)
        def get(self, stream=None, out=None):
            emu.no_capture("a device-to-host copy")
            s = stream if stream is not None else _current(st)
            emu.touch(s, [self], [], "a device-to-host copy")
            if stream is None:            # CuPy: a copy on the current stream, waited for
                s.gen += 1
            return np.array(self._a)

        def set(self, arr, stream=None):
            emu.no_capture("a host-to-device copy")
            arr = np.asarray(arr)
            if arr.shape != self.shape:
                raise ValueError(f"set: shape {arr.shape} does not match {self.shape}")
            emu.touch(stream if stream is not None else _current(st), [], [self],
                      "a host-to-device copy")
            self._a[...] = arr

        def item(self):
            emu.no_capture("a device-to-host copy")
            s = _current(st)
            emu.touch(s, [self], [], "a device-to-host copy")
            s.gen += 1
            return self._a.item()

        def __float__(self):
            return float(self.item())

        def __int__(self):
            return int(self.item())

        def __bool__(self):
            return bool(self.item())

        def __index__(self):
            return int(self.item())

        # device work
        def __getitem__(self, key):
            r = self._a[host(key)]
            if devs(key):              # fancy indexing by a device array: a gather, new memory
                out = wrap(np.array(r))
                emu.no_capture("a gather (it allocates its result)")
                emu.touch(_current(st), [self] + devs(key), devs(out), "a gather")
                return out
            return ndarray(r, self._raw) if isinstance(r, np.ndarray) else wrap(r)

        def __setitem__(self, key, value):
            k, v = host(key), host(value)
            dst = self._a

            def assign():
                dst[k] = v
            emu.touch(_current(st), devs(key) + devs(value), [self], "an assignment")
            emu.submit(assign, _current(st), "an assignment")

        def fill(self, value):
            dst = self._a
            emu.touch(_current(st), [], [self], "ndarray.fill")
            emu.submit(lambda: dst.fill(value), _current(st), "ndarray.fill")

        def copy(self, order="C"):
            out = alloc(self.shape, self.dtype)
            emu.touch(_current(st), [self], [out], "ndarray.copy")
            out._a[...] = self._a
            return out

        def astype(self, dtype, copy=True):
            out = alloc(self.shape, dtype)
            emu.touch(_current(st), [self], [out], "ndarray.astype")
            out._a[...] = self._a
            return out

        def __getattr__(self, name):          # other methods: ravel, sum, max, dot, ...
            if name.startswith("_"):
                raise AttributeError(name)
            attr = getattr(self._a, name)
            if not callable(attr):
                return attr
            return device_op(attr, f"ndarray.{name}")

        def _check_guards(self, who):
            if self._raw is None:
                return
            raw = self._raw.raw
            if (raw[:_GUARD] != _FILL).any() or (raw[-_GUARD:] != _FILL).any():
                raise EmulatorError(f"{who} wrote outside an array of shape {self.shape} "
                                    f"(its guard bytes changed)")

    ndarray.__module__ = "cupy"

    # ------------------------------------------------------------------ creation, transfers
    def asarray(a, dtype=None, order=None):
        if isinstance(a, ndarray):
            return a if dtype is None or np.dtype(dtype) == a.dtype else a.astype(dtype)
        h = np.asarray(a, dtype=dtype)
        out = alloc(h.shape, h.dtype)
        emu.touch(_current(st), [], [out], "a host-to-device copy")
        out._a[...] = h
        return out

    def array(a, dtype=None, copy=True):
        if isinstance(a, ndarray):
            return a.astype(dtype or a.dtype)
        return asarray(a, dtype)

    def zeros(shape, dtype=np.float64):
        out = alloc(shape if isinstance(shape, tuple) else (int(shape),), dtype)
        emu.touch(_current(st), [], [out], "cupy.zeros")
        out._a[...] = 0
        return out

    def empty(shape, dtype=np.float64):
        return alloc(shape if isinstance(shape, tuple) else (int(shape),), dtype)

    def full(shape, value, dtype=np.float64):
        out = empty(shape, dtype)
        emu.touch(_current(st), [], [out], "cupy.full")
        out._a[...] = value
        return out

    def asnumpy(a, stream=None):
        return a.get(stream=stream) if isinstance(a, ndarray) else np.asarray(a)

    mod.ndarray = ndarray
    mod.asarray, mod.array, mod.zeros, mod.empty, mod.full = asarray, array, zeros, empty, full
    mod.asnumpy = asnumpy
    mod.stack = device_op(np.stack, "stack")
    mod.concatenate = device_op(np.concatenate, "concatenate")
    # CuPy's argsort is always stable (thrust) and takes no `kind`
    mod.argsort = device_op(lambda a, axis=-1: np.argsort(a, axis=axis, kind="stable"), "argsort")
    mod.linalg = types.SimpleNamespace(norm=device_op(np.linalg.norm, "linalg.norm"))
    for name in ("float64", "float32", "int64", "int32", "uint32", "uint16", "bool_", "inf", "nan",
                 "newaxis", "dtype"):
        setattr(mod, name, getattr(np, name))

    def module_getattr(name):                # cupy.maximum, cupy.clip, cupy.where, ...
        f = getattr(np, name, None)
        if f is None or name.startswith("_") or not callable(f):
            raise AttributeError(f"the cupy emulator has no attribute {name!r}")
        return device_op(f, name)

    mod.__getattr__ = module_getattr

    def get_array_module(*args):
        return mod if any(isinstance(a, ndarray) for a in args) else np

    mod.get_array_module = get_array_module

    # ------------------------------------------------------------------ streams and graphs
    class Graph:
        def __init__(self, work, touches):
            self._work, self._touches = work, touches

        def launch(self, stream=None):
            emu.no_capture("a graph launch")
            s = stream if stream is not None else _current(st)
            for reads, writes, what in self._touches:
                emu.touch(s, reads, writes, what + " (in a graph)")
            for fn in self._work:
                fn()

    class Stream:
        def __init__(self, null=False, non_blocking=False, ptds=False):
            self.ptr = 0 if null else id(self)
            self.null, self.non_blocking, self.gen = null, non_blocking, 0
            st.all_streams.append(self)

        def label(self):
            return "the null stream" if self.null else (
                f"stream {self.ptr:#x}" + (" (non-blocking)" if self.non_blocking else ""))

        def __enter__(self):
            st.streams.append(self)
            return self

        def __exit__(self, *exc):
            st.streams.pop()

        def use(self):
            st.streams[:] = [self]
            return self

        def synchronize(self):
            emu.no_capture("Stream.synchronize")
            self.gen += 1

        def begin_capture(self, mode=None):
            if st.capture is not None:
                raise EmulatorError("begin_capture during a capture")
            st.capture = (self, [], [])

        def end_capture(self):
            if st.capture is None or st.capture[0] is not self:
                raise EmulatorError("end_capture without a capture on this stream")
            work, touches = st.capture[1], st.capture[2]
            st.capture = None
            return Graph(work, touches)

        def is_capturing(self):
            return st.capture is not None and st.capture[0] is self

    st.null = Stream(null=True)
    Stream.null = st.null

    def get_current_stream():
        return _current(st)

    # ------------------------------------------------------------------ kernels
    class RawKernel:
        def __init__(self, dll, name, params):
            self.name, self._params = name, params
            self._fn = getattr(dll, f"emu_launch_{name}")
            self._dll = dll

        def _marshal(self, args):
            if len(args) != len(self._params):
                raise EmulatorError(f"{self.name} takes {len(self._params)} arguments, "
                                    f"{len(args)} given")
            slots, keep, arrays = [], [], []
            self._written = []
            for a, (base, pointer, pname, ctype) in zip(args, self._params):
                where = f"{self.name}, parameter {pname} ({ctype})"
                if pointer:
                    want = _POINTEES.get(base)
                    if not isinstance(a, ndarray):
                        raise EmulatorError(f"{where}: needs a device array, got {type(a)}")
                    if want is None or a.dtype != want:
                        raise EmulatorError(f"{where}: needs {np.dtype(want)}, got {a.dtype}")
                    if not a._a.flags.c_contiguous:
                        raise EmulatorError(f"{where}: the array is not C-contiguous")
                    v = ctypes.c_void_p(a._a.ctypes.data)
                    arrays.append(a)
                    if "const" not in ctype:
                        self._written.append(a)
                else:
                    want = _SCALARS.get(base)
                    if want is None:
                        raise EmulatorError(f"{where}: the emulator does not know this type")
                    if type(a) is not want:
                        raise EmulatorError(f"{where}: pass numpy.{np.dtype(want).name}, "
                                            f"got {type(a).__name__}")
                    v = _CTYPES[want](a.item())   # a copy: the value is fixed at the launch
                keep.append(v)
                slots.append(ctypes.cast(ctypes.pointer(v), ctypes.c_void_p))
            argv = (ctypes.c_void_p * max(1, len(slots)))(*slots)
            return argv, keep, arrays

        def __call__(self, grid, block, args, stream=None, shared_mem=0,
                     enable_cooperative_groups=False):
            gx, bx = _dim1(grid, "grid"), _dim1(block, "block")
            argv, keep, arrays = self._marshal(tuple(args))
            s = stream if stream is not None else _current(st)
            emu.touch(s, arrays, self._written, f"the kernel {self.name}")

            def launch():
                _ = keep
                if self._fn(gx, bx, argv):
                    raise EmulatorError(f"{self.name}: {self._dll.emu_last_error().decode()}")
                for a in arrays:
                    a._check_guards(self.name)
            emu.submit(launch, stream if stream is not None else _current(st),
                       f"the kernel {self.name}")

    def _dim1(d, what):
        d = (d,) if isinstance(d, int) else tuple(d)
        if not d or any(int(v) != 1 for v in d[1:]) or int(d[0]) < 1:
            raise EmulatorError(f"{what} {d}: the emulator runs 1-D launches only")
        return int(d[0])

    class RawModule:
        def __init__(self, code=None, path=None, options=(), backend="nvrtc", **kwargs):
            if code is None:
                with open(path) as fh:
                    code = fh.read()
            self._dll, self._kernels = _build(code)

        def get_function(self, name):
            if name not in self._kernels:
                raise EmulatorError(f"no kernel named {name} in the module")
            return RawKernel(self._dll, name, self._kernels[name][0])

    mod.RawModule = RawModule
    mod.RawKernel = RawKernel

    # ------------------------------------------------------------------ device and memory
    class Device:
        def __init__(self, device=0):
            self.id = int(device)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            pass

        def use(self):
            pass

        def synchronize(self):
            emu.no_capture("Device.synchronize")
            for s in st.all_streams:
                s.gen += 1

    class MemoryPool:
        def free_bytes(self):
            return 0

        def used_bytes(self):
            return st.live

        def malloc(self, size):      # the allocation itself happened in alloc()
            return None

        def total_bytes(self):
            return st.allocated

        def free_all_blocks(self):
            pass

        def set_limit(self, size=None, fraction=None):
            st.limit = size

    pool = MemoryPool()

    def get_device_properties(dev):
        return {"name": b"gpulp CUDA emulator (CPU)", "totalGlobalMem": st.total,
                "multiProcessorCount": 1, "major": 9, "minor": 0}

    def mem_get_info():
        free = st.total - st.allocated if st.limit is None else max(0, st.limit - st.allocated)
        return free, st.total

    class Event:
        def __init__(self, block=False, disable_timing=False, interprocess=False):
            self.t = None

        def record(self, stream=None):
            import time
            self.t = time.perf_counter()
            self.stream = stream if stream is not None else _current(st)

        def synchronize(self):
            emu.no_capture("Event.synchronize")
            self.stream.gen += 1

    def device_sync():
        emu.no_capture("a device sync")
        for s in st.all_streams:
            s.gen += 1

    def get_elapsed_time(start, end):
        return 1e3 * (end.t - start.t)

    def _random(size=None, dtype=np.float64):
        return asarray(np.random.default_rng().random(size).astype(dtype))

    mod.random = types.SimpleNamespace(random=_random, rand=lambda *shape: _random(shape))

    def set_allocator(fn=None):
        st.allocator = None if fn is None or fn == pool.malloc else fn

    mod.cuda = types.SimpleNamespace(
        Stream=Stream, Graph=Graph, Device=Device, get_current_stream=get_current_stream,
        Event=Event, get_elapsed_time=get_elapsed_time, set_allocator=set_allocator,
        runtime=types.SimpleNamespace(getDeviceCount=lambda: 1,
                                      getDeviceProperties=get_device_properties,
                                      memGetInfo=mem_get_info,
                                      deviceSynchronize=device_sync),
        memory=types.SimpleNamespace(OutOfMemoryError=OutOfMemoryError),
        OutOfMemoryError=OutOfMemoryError)
    mod.get_default_memory_pool = lambda: pool
    mod.emulator = st                    # tests set st.limit / st.total, read st.allocated
    return mod


def _make_cupyx():
    """`cupyx` with `profiler.benchmark` (host wall times stand for the GPU times)."""
    import time

    def benchmark(func, args=(), kwargs=None, n_repeat=10000, name=None, n_warmup=10,
                  max_duration=np.inf, devices=None):
        for _ in range(n_warmup):
            func(*args, **(kwargs or {}))
        times = []
        for _ in range(n_repeat):
            t = time.perf_counter()
            func(*args, **(kwargs or {}))
            times.append(time.perf_counter() - t)
        times = np.array(times)
        return types.SimpleNamespace(name=name or getattr(func, "__name__", "func"),
                                     cpu_times=times, gpu_times=times[None, :])

    cupyx = types.ModuleType("cupyx")
    cupyx.profiler = types.ModuleType("cupyx.profiler")
    cupyx.profiler.benchmark = benchmark
    return cupyx


@contextlib.contextmanager
def emulated_cupy():
    """Install a fresh stand-in as `cupy` (and `cupyx`; and reset gpulp's cached GPU probe and
    compiled modules), yield it, and restore everything afterwards."""
    from gpulp import backend
    saved = {k: sys.modules.get(k) for k in ("cupy", "cupyx", "cupyx.profiler")}
    saved_reason, saved_modules = list(backend._GPU_REASON), dict(backend._MODULES)
    cp = make_cupy()
    sys.modules["cupy"] = cp
    sys.modules["cupyx"] = _make_cupyx()
    sys.modules["cupyx.profiler"] = sys.modules["cupyx"].profiler
    backend._GPU_REASON.clear()
    backend._MODULES.clear()
    try:
        yield cp
    finally:
        for k, v in saved.items():
            if v is None:
                sys.modules.pop(k, None)
            else:
                sys.modules[k] = v
        backend._GPU_REASON[:] = saved_reason
        backend._MODULES.clear()
        backend._MODULES.update(saved_modules)
