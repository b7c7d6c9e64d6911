"""The curated benchmark cases.

A :class:`Case` bundles everything one row of the report needs: how to
make its float32 inputs, the float64 NumPy reference that every library's
answer is checked against, one implementation per library, the fasttensor
names it needs (so a case whose op does not exist yet is skipped with a
note), and how much work it does (flops or bytes moved) so that times turn
into GFLOP/s or GB/s.

Names read ``<op>[-<variant>]-<size>``, for example ``matmul-512`` (square
512 x 512 @ 512 x 512), ``matmul-1x4096x4096`` (m x k x n),
``softmax-4096x1024`` (rows x columns, over the last axis) or
``attention-causal-L512`` (batch 1, 8 heads, sequence 512, head size 64).
The pytest-benchmark suite in ``bench/`` uses the same names for its
groups, so the two can be read side by side.
"""

from __future__ import annotations

import fnmatch
import math
import re
from dataclasses import dataclass
from collections.abc import Callable

import ml_dtypes
import numpy as np


@dataclass
class Case:
    """One benchmark case.

    Attributes
    ----------
    name : str
        Unique name; ``--cases`` patterns match against it.
    group : str
        Family: ``matmul``, ``bmm``, ``dot``, ``softmax``, ``attention``,
        ``elementwise``, ``broadcast`` or ``reduction``.
    make_inputs : callable
        ``make_inputs(rng) -> tuple of ndarray`` (the inputs every library
        gets, converted outside the timed call).
    reference : callable
        ``reference(*inputs_as_float64) -> (expected, scale)``.  `scale` is
        the per-element magnitude the rounding error is proportional to
        (``|A| @ |B|`` for a product, ``sum |x|`` for a sum); None means
        ``|expected|``.
    impl : dict
        Library name -> ``fn(module, *inputs)`` returning the result.
    requires : tuple of str
        Dotted fasttensor names the fasttensor implementation calls.
    kind : str
        ``"flops"`` (compute-bound: reported in GFLOP/s against the FMA
        peak) or ``"bytes"`` (memory-bound: GB/s against copy bandwidth).
    flops, nbytes : float
        Floating-point operations, and bytes read plus written, per call.
    depth : int
        Length of the longest accumulation (k of a product, the reduced
        length of a sum); the tolerance grows with its square root.
    rtol_eps : float
        Tolerance in units of the dtype's machine epsilon (times
        ``sqrt(depth)``).
    series, x : str or None, float
        Plot line this case belongs to and its x coordinate.
    quick : bool
        Part of the ``--quick`` subset.
    shapes : str
        Human-readable description of the operands.
    """

    name: str
    group: str
    make_inputs: Callable
    reference: Callable
    impl: dict[str, Callable]
    requires: tuple[str, ...] = ()
    kind: str = "flops"
    flops: float = 0.0
    nbytes: float = 0.0
    depth: int = 1
    rtol_eps: float = 8.0
    dtype: type = np.float32
    series: str | None = None
    x: float = 0.0
    quick: bool = False
    shapes: str = ""

    def tolerance(self):
        """Relative tolerance against the error scale."""
        eps = float(ml_dtypes.finfo(self.dtype).eps)
        return self.rtol_eps * eps * math.sqrt(max(self.depth, 1))


def check_agreement(case, result, expected, scale):
    """Compare one library's `result` with the float64 reference.

    Each element must satisfy ``|result - expected| <= tol * s`` where
    ``tol = case.tolerance()`` and ``s`` is the element's error scale,
    floored at 1e-6 of the largest scale (so that a library that flushes
    denormals is not called wrong).  NaNs must sit where the reference has
    them.

    Returns
    -------
    ok : bool
    error_ratio : float
        Largest ``|result - expected| / (tol * s)``; at most 1 when ok.
    message : str
        Empty when ok, else what disagreed.
    """
    out = np.asarray(result)
    if out.dtype.name == "bfloat16":  # ml_dtypes' kind is "V"
        out = out.astype(np.float32)
    if out.shape != expected.shape:
        return False, math.inf, (f"shape {out.shape} differs from the "
                                 f"reference {expected.shape}")
    if out.dtype.kind not in "fc":
        return False, math.inf, f"dtype {out.dtype} is not a float dtype"
    out = out.astype(np.float64)
    exp_nan = np.isnan(expected)
    if not np.array_equal(np.isnan(out), exp_nan):
        return False, math.inf, "NaNs where the reference has none (or none " \
                                "where it has them)"
    if scale is None:
        scale = np.abs(expected)
    scale = np.asarray(scale, dtype=np.float64)
    finite = ~exp_nan
    if not finite.any():
        return True, 0.0, ""
    top = float(np.max(scale[finite])) if scale.ndim else float(scale)
    floor = max(top * 1e-6, np.finfo(np.float64).tiny)
    bound = case.tolerance() * np.maximum(scale, floor)
    err = np.abs(out - expected)
    inf_ref = np.isinf(expected)
    if np.any(inf_ref):
        if not np.array_equal(out[inf_ref], expected[inf_ref]):
            return False, math.inf, "infinities differ from the reference"
        finite &= ~inf_ref
    ratio = err[finite] / np.broadcast_to(bound, err.shape)[finite]
    worst = float(np.max(ratio)) if ratio.size else 0.0
    if not worst <= 1.0:
        idx = np.unravel_index(
            np.argmax(np.where(finite, err / bound, -1.0)), err.shape)
        return False, worst, (
            f"max error {float(err[idx]):.3g} at {tuple(int(i) for i in idx)} "
            f"(expected {float(expected[idx]):.6g}, got {float(out[idx]):.6g}) "
            f"exceeds the tolerance {float(bound[idx] if bound.ndim else bound):.3g}"
        )
    return True, worst, ""


# ---------------------------------------------------------------- helpers
def _same(fn):
    """The same code for fasttensor and NumPy (fasttensor follows NumPy)."""
    return {"fasttensor": fn, "numpy": fn}


def _normal(*shape, dtype=np.float32):
    def make(rng):
        return (rng.standard_normal(shape).astype(dtype),)
    return make


def _normals(*shapes, dtype=np.float32):
    def make(rng):
        return tuple(rng.standard_normal(s).astype(dtype) for s in shapes)
    return make


def _itemsize(dtype):
    return np.dtype(dtype).itemsize


def _size_label(n):
    for unit, div in (("M", 1 << 20), ("K", 1 << 10)):
        if n >= div and n % div == 0:
            return f"{n // div}{unit}"
    return str(n)


# ---------------------------------------------------------------- matmul
def _matmul_ref(a, b):
    return a @ b, np.abs(a) @ np.abs(b)


def matmul_case(m, k, n, *, dtype=np.float32, transpose_a=False, name=None,
                quick=False, series=None):
    """``a @ b`` with a m x k and b k x n (a stored k x m when transposed)."""
    isz = _itemsize(dtype)
    nbytes = (m * k + k * n + m * n) * isz
    flops = 2.0 * m * n * k
    # A product with a single row or column moves every element of the
    # other operand once: it is memory-bound, like a dot.
    kind = "bytes" if min(m, n) == 1 else "flops"
    if transpose_a:
        make = _normals((k, m), (k, n), dtype=dtype)
        impl = _same(lambda xp, at, b: xp.matmul(at.T, b))
        impl["torch"] = lambda torch, at, b: torch.matmul(at.T, b)

        def ref(at, b):
            return _matmul_ref(at.T, b)
        shapes = f"({k}, {m}).T @ ({k}, {n})"
        requires = ("matmul", "Tensor.T")
    else:
        make = _normals((m, k), (k, n), dtype=dtype)
        impl = _same(lambda xp, a, b: xp.matmul(a, b))
        impl["torch"] = lambda torch, a, b: torch.matmul(a, b)
        ref = _matmul_ref
        shapes = f"({m}, {k}) @ ({k}, {n})"
        requires = ("matmul",)
    if name is None:
        name = f"matmul-{m}" if m == k == n else f"matmul-{m}x{k}x{n}"
    return Case(name=name, group="matmul", make_inputs=make, reference=ref,
                impl=impl, requires=requires, kind=kind, flops=flops,
                nbytes=nbytes, depth=k, dtype=dtype, series=series, x=n,
                quick=quick, shapes=shapes + f" {np.dtype(dtype).name}")


def bmm_case(batch, m, k, n, *, broadcast_b=False, quick=False):
    """A batch of products; with `broadcast_b` one b serves every batch."""
    b_shape = (k, n) if broadcast_b else (batch, k, n)
    make = _normals((batch, m, k), b_shape)
    impl = _same(lambda xp, a, b: xp.matmul(a, b))
    impl["torch"] = lambda torch, a, b: torch.matmul(a, b)
    nb = k * n if broadcast_b else batch * k * n
    name = (f"bmm-bcast-{batch}x{m}" if broadcast_b else f"bmm-{batch}x{m}")
    if not (m == k == n):
        name += f"x{k}x{n}"
    return Case(name=name, group="bmm", make_inputs=make,
                reference=_matmul_ref, impl=impl, requires=("matmul",),
                kind="flops", flops=2.0 * batch * m * n * k,
                nbytes=(batch * m * k + nb + batch * m * n) * 4, depth=k,
                quick=quick,
                shapes=f"{(batch, m, k)} @ {b_shape} float32")


def lowp_matmul_case(n, *, autocast=False, quick=False):
    """A square bfloat16 product: bfloat16 operands, or float32 operands
    under each library's autocast to bfloat16.  The result is bfloat16 in
    both forms; NumPy has no bfloat16 product of its own and is left out
    (``matmul-<n>`` of the same run is the float32 baseline)."""
    bf16 = ml_dtypes.bfloat16
    in_dtype = np.float32 if autocast else bf16

    def make(rng):
        return tuple(rng.standard_normal((n, n)).astype(in_dtype)
                     for _ in range(2))

    def ref(a, b):
        # The bfloat16 values each library multiplies, in float64.
        a, b = (x.astype(bf16).astype(np.float64) for x in (a, b))
        return _matmul_ref(a, b)

    if autocast:
        def ft_impl(ft, a, b):
            with ft.autocast(dtype=ft.bfloat16):
                return ft.matmul(a, b)

        def torch_impl(torch, a, b):
            with torch.autocast("cpu", dtype=torch.bfloat16):
                return torch.matmul(a, b)
        requires = ("matmul", "autocast", "bfloat16")
    else:
        def ft_impl(ft, a, b):
            return ft.matmul(a, b)

        def torch_impl(torch, a, b):
            return torch.matmul(a, b)
        requires = ("matmul", "bfloat16")
    variant = "autocast" if autocast else "bf16"
    return Case(name=f"matmul-{variant}-{n}", group="matmul",
                make_inputs=make, reference=ref,
                impl={"fasttensor": ft_impl, "torch": torch_impl},
                requires=requires, kind="flops", flops=2.0 * n ** 3,
                nbytes=3.0 * n * n * _itemsize(in_dtype), depth=1,
                rtol_eps=2.0, dtype=bf16, quick=quick,
                shapes=f"({n}, {n}) @ ({n}, {n}) "
                + ("float32 under autocast(bfloat16)" if autocast
                   else "bfloat16"))


# ---------------------------------------------------------------- dot
def dot_case(n, *, quick=False):
    def ref(x, y):
        return np.asarray(np.dot(x, y)), np.asarray(np.dot(np.abs(x), np.abs(y)))
    impl = _same(lambda xp, x, y: xp.dot(x, y))
    impl["torch"] = lambda torch, x, y: torch.dot(x, y)
    return Case(name=f"dot-{_size_label(n)}", group="dot",
                make_inputs=_normals((n,), (n,)), reference=ref, impl=impl,
                requires=("dot",), kind="bytes", flops=2.0 * n,
                nbytes=2.0 * n * 4, depth=n, quick=quick,
                shapes=f"({n},) . ({n},) float32")


# ---------------------------------------------------------------- softmax
def _np_softmax(xp, x, axis):
    e = xp.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def softmax_case(rows, cols, *, axis=-1, quick=False):
    shape = (rows, cols)
    length = shape[axis]

    def ref(x):
        return _np_softmax(np, x, axis), None

    impl = {
        "fasttensor": lambda ft, x: ft.softmax(x, axis=axis),
        "numpy": lambda np_, x: _np_softmax(np_, x, axis),
        "torch": lambda torch, x: torch.softmax(x, dim=axis),
    }
    variant = "" if axis in (-1, 1) else f"axis{axis}-"
    n = rows * cols
    return Case(name=f"softmax-{variant}{rows}x{cols}", group="softmax",
                make_inputs=_normal(rows, cols), reference=ref, impl=impl,
                requires=("softmax",), kind="bytes", flops=5.0 * n,
                nbytes=2.0 * n * 4, depth=length, quick=quick,
                shapes=f"{shape} float32, axis={axis}")


# ---------------------------------------------------------------- attention
def _np_attention(xp, q, k, v, mask_add):
    scale = 1.0 / math.sqrt(q.shape[-1])
    s = xp.matmul(q, xp.swapaxes(k, -1, -2)) * q.dtype.type(scale)
    if mask_add is not None:
        s = s + mask_add
    return xp.matmul(_np_softmax(xp, s, -1), v)


def attention_case(length, *, batch=1, heads=8, head_dim=64, causal=False,
                   dtype=np.float32, quick=False):
    """``softmax(q @ k^T / sqrt(D) [+ causal mask]) @ v`` over B x H heads,
    on float32 or bfloat16 q, k and v (NumPy, without a bfloat16 product,
    is left out of the bfloat16 case)."""
    shape = (batch, heads, length, head_dim)
    lowp = np.dtype(dtype) == np.dtype(ml_dtypes.bfloat16)

    def make(rng):
        q, k, v = (rng.standard_normal(shape).astype(np.float32).astype(dtype)
                   for _ in range(3))
        if not causal:
            return q, k, v
        # NumPy has no causal option: its version adds a -inf mask that is
        # built once, outside the timed call (PyTorch and fasttensor build
        # theirs inside).
        mask = np.triu(np.full((length, length), -np.inf, np.float32), 1)
        return q, k, v, mask

    def ref(q, k, v, mask=None):
        q, k, v = (x.astype(np.float64) for x in (q, k, v))
        s = q @ np.swapaxes(k, -1, -2) / math.sqrt(head_dim)
        if mask is not None:
            s = s + mask
        p = _np_softmax(np, s, -1)
        return p @ v, p @ np.abs(v)

    def ft_impl(ft, q, k, v, mask=None):
        return ft.nn.scaled_dot_product_attention(q, k, v, is_causal=causal)

    def torch_impl(torch, q, k, v, mask=None):
        return torch.nn.functional.scaled_dot_product_attention(
            q, k, v, is_causal=causal)

    def np_impl(np_, q, k, v, mask=None):
        return _np_attention(np_, q, k, v, mask)

    pairs = length * (length + 1) / 2 if causal else length * length
    flops = 4.0 * batch * heads * head_dim * pairs
    name = (f"attention-{'bf16-' if lowp else ''}{'causal-' if causal else ''}"
            f"{f'B{batch}-' if batch != 1 else ''}L{length}")
    impl = {"fasttensor": ft_impl, "torch": torch_impl}
    if not lowp:
        impl["numpy"] = np_impl
    return Case(name=name, group="attention", make_inputs=make,
                reference=ref, impl=impl,
                requires=("nn.scaled_dot_product_attention",)
                + (("bfloat16",) if lowp else ()), kind="flops",
                flops=flops,
                nbytes=4.0 * _itemsize(dtype) * batch * heads * length
                * head_dim,
                depth=1 if lowp else max(length, head_dim),
                rtol_eps=4.0 if lowp else 16.0, dtype=dtype,
                series=None if causal or lowp else "attention", x=length,
                quick=quick,
                shapes=f"q, k, v {shape} {np.dtype(dtype).name}"
                + (", causal" if causal else ""))


# ---------------------------------------------------------------- element-wise
def binary_case(op, n, *, quick=False, series=None):
    np_op = {"add": np.add, "mul": np.multiply}[op]
    ft_name = {"add": "add", "mul": "multiply"}[op]

    def ref(a, b):
        return np_op(a, b), None

    impl = {
        "fasttensor": lambda ft, a, b: getattr(ft, ft_name)(a, b),
        "numpy": lambda np_, a, b: np_op(a, b),
        "torch": lambda torch, a, b: getattr(torch, ft_name)(a, b),
    }
    return Case(name=f"{op}-{_size_label(n)}", group="elementwise",
                make_inputs=_normals((n,), (n,)), reference=ref, impl=impl,
                requires=(ft_name,), kind="bytes", flops=float(n),
                nbytes=3.0 * n * 4, rtol_eps=1.0, series=series, x=n,
                quick=quick, shapes=f"({n},) {op} ({n},) float32")


def unary_case(op, n, *, quick=False):
    def ref(x):
        return getattr(np, op)(x), None

    impl = {
        "fasttensor": lambda ft, x: getattr(ft, op)(x),
        "numpy": lambda np_, x: getattr(np_, op)(x),
        "torch": lambda torch, x: getattr(torch, op)(x),
    }
    return Case(name=f"{op}-{_size_label(n)}", group="elementwise",
                make_inputs=_normal(n), reference=ref, impl=impl,
                requires=(op,), kind="bytes", flops=float(n),
                nbytes=2.0 * n * 4, rtol_eps=8.0, quick=quick,
                shapes=f"{op}(({n},)) float32")


def broadcast_add_case(rows, cols, *, column=False, quick=False):
    """``x + row`` (a (cols,) vector) or ``x + col`` (a (rows, 1) vector)."""
    other = (rows, 1) if column else (cols,)

    def ref(a, b):
        return a + b, None

    impl = _same(lambda xp, a, b: xp.add(a, b))
    impl["torch"] = lambda torch, a, b: torch.add(a, b)
    n = rows * cols
    kind = "col" if column else "row"
    return Case(name=f"add-{kind}-bcast-{rows}x{cols}", group="broadcast",
                make_inputs=_normals((rows, cols), other), reference=ref,
                impl=impl, requires=("add",), kind="bytes", flops=float(n),
                nbytes=(2.0 * n + math.prod(other)) * 4, rtol_eps=1.0,
                quick=quick, shapes=f"({rows}, {cols}) + {other} float32")


# ---------------------------------------------------------------- reductions
def reduction_case(op, shape, *, axis=None, quick=False):
    """``op(x, axis)`` for op in sum, max, on positive inputs.

    Positive inputs make ``sum |x|`` equal to ``|sum x|``, so the tolerance
    of a sum is relative to the sum itself (with inputs of both signs,
    ``sum |x|`` would dwarf the result and hide real errors).
    """
    def make(rng):
        return (rng.uniform(0.5, 1.5, shape).astype(np.float32),)

    if op == "sum":
        def ref(x):
            return np.asarray(np.sum(x, axis=axis)), np.asarray(
                np.sum(np.abs(x), axis=axis))
        depth = math.prod(shape) if axis is None else shape[axis]
        rtol = 2.0
        def torch_fn(torch, x):
            return torch.sum(x) if axis is None else torch.sum(x, dim=axis)
    else:
        def ref(x):
            return np.asarray(np.max(x, axis=axis)), None
        depth, rtol = 1, 1.0
        def torch_fn(torch, x):
            return torch.amax(x) if axis is None else torch.amax(x, dim=axis)
    impl = _same(lambda xp, x: getattr(xp, op)(x, axis=axis))
    impl["torch"] = torch_fn
    n = math.prod(shape)
    if axis is None:
        label = _size_label(n)
    else:
        part = "rows" if axis in (-1, len(shape) - 1) else "cols"
        label = f"{part}-" + "x".join(map(str, shape))
    out_n = 1 if axis is None else n // shape[axis]
    return Case(name=f"{op}-{label}", group="reduction", make_inputs=make,
                reference=ref, impl=impl, requires=(op,), kind="bytes",
                flops=float(n), nbytes=(n + out_n) * 4.0, depth=depth,
                rtol_eps=rtol, quick=quick,
                shapes=f"{op}({shape}, axis={axis}) float32")


# ---------------------------------------------------------------- the set
def default_cases():
    """The curated list, in report order."""
    cases = []
    for n in (64, 128, 256, 512, 1024, 2048):
        cases.append(matmul_case(n, n, n, series="matmul",
                                 quick=n in (128, 512, 1024)))
    cases += [
        matmul_case(1, 4096, 4096),
        matmul_case(4096, 64, 4096),
        matmul_case(64, 4096, 64),
        matmul_case(512, 512, 512, transpose_a=True, name="matmul-T-512"),
        matmul_case(512, 512, 512, dtype=np.float64, name="matmul-f64-512"),
        lowp_matmul_case(256),
        lowp_matmul_case(512),
        lowp_matmul_case(2048),
        lowp_matmul_case(512, autocast=True),
        bmm_case(64, 128, 128, 128, quick=True),
        bmm_case(16, 256, 256, 256, broadcast_b=True),
        dot_case(1 << 20, quick=True),
        dot_case(1 << 24),
        softmax_case(256, 256),
        softmax_case(4096, 1024, quick=True),
        softmax_case(4096, 1024, axis=0),
    ]
    for length in (128, 256, 512, 1024):
        cases.append(attention_case(length, quick=length in (256, 512)))
    cases.append(attention_case(512, causal=True))
    cases.append(attention_case(1024, batch=4, dtype=ml_dtypes.bfloat16))
    for n in (1 << 16, 1 << 20, 1 << 24):
        cases.append(binary_case("add", n, series="add", quick=True))
    cases += [
        binary_case("mul", 1 << 20),
        unary_case("exp", 1 << 20, quick=True),
        unary_case("tanh", 1 << 20),
        broadcast_add_case(4096, 1024, quick=True),
        broadcast_add_case(4096, 1024, column=True),
        reduction_case("sum", (1 << 24,)),
        reduction_case("sum", (4096, 1024), axis=-1, quick=True),
        reduction_case("sum", (4096, 1024), axis=0),
        reduction_case("max", (4096, 1024), axis=-1),
    ]
    return cases


def get_case(name):
    """The default case called `name` (KeyError naming the choices if none)."""
    for case in default_cases():
        if case.name == name:
            return case
    raise KeyError(f"no benchmark case named {name!r}; known cases: "
                   f"{', '.join(c.name for c in default_cases())}")


def select(cases, patterns=None, quick=False):
    """Cases whose name matches any of `patterns`, in their original order.

    Each pattern is a shell-style wildcard (``matmul-*``) matched against
    the whole name, or else a regular expression searched in it
    (``^add|softmax``); several patterns may be joined by commas.  With
    `quick`, only the ``--quick`` subset is considered.
    """
    if quick:
        cases = [c for c in cases if c.quick]
    if not patterns:
        return list(cases)
    if isinstance(patterns, str):
        patterns = [p for p in patterns.split(",") if p.strip()]
    matchers = []
    for pat in patterns:
        pat = pat.strip()
        try:
            rx = re.compile(pat)
        except re.error:
            rx = None
        matchers.append((pat, rx))
    chosen = []
    for case in cases:
        for pat, rx in matchers:
            if fnmatch.fnmatchcase(case.name, pat) or (
                    rx is not None and rx.search(case.name)):
                chosen.append(case)
                break
    return chosen
