# Reduced precision: float16 and bfloat16 arithmetic, autocast state, and
# the floating-point environment (flush denormals).
#
# float16 and bfloat16 tensors are stored in 16 bits and computed in
# float32, as PyTorch does on a CPU without 16-bit arithmetic units: the
# operands are widened to float32 (exactly, src/kernels/convert.inl), the
# float32 kernels run, and the result is rounded back once to the 16-bit
# dtype (to nearest even).  Reductions accumulate in float32 or wider.
# The entry points of the element-wise and reduction families hand such
# operands to the functions below.
#
# Operands are rounded to the result dtype first: a tensor of integers or
# bool mixed with a 16-bit float tensor, and a Python scalar (weak, so it
# does not widen the dtype): bf16_tensor + 0.1 adds bfloat16(0.1) in
# float32 and rounds, as NumPy with ml_dtypes and PyTorch's add do.
# (PyTorch's multiply by a Python scalar skips the first rounding; fasttensor
# keeps the one rule for every op.)
#
# Element-wise ops and reductions have no 16-bit arithmetic kernels
# (AVX512-FP16 is not used): they are "float32 compute via conversion", as
# show_config reports; bfloat16 products may run on a matrix engine (see
# "products" below and show_config's "bf16 matmul" line).

import threading

cdef extern from "ops/fpenv.h" namespace "ft":
    bint ft_set_flush_denormal "ft::set_flush_denormal"(bint on) nogil
    bint ft_flush_denormal_enabled "ft::flush_denormal_enabled"() nogil


LOWP_COMPUTE_PATH = "float32 compute via conversion"


cdef Tensor _lowp_operand(object x, int dt, str name):
    """``x`` as a float32 tensor for an op whose result dtype is the 16-bit
    float ``dt``."""
    if _weak_kind(x) >= 0:
        return cast_to(scalar_tensor(x, dt, name), kFloat32)
    return cast_to(cast_to(_convert(x, None, name), dt), kFloat32)


cdef object _lowp_finish(Tensor r, int dt, object out, str name):
    """A float32 result rounded back to ``dt`` (bool and integer results
    as they are), written into ``out`` when one is given."""
    if r.dt == kFloat32:
        r = cast_to(r, dt)
    if out is None:
        return r
    _result_out(out, r.nd, r.shp, r.dt, name)
    return _finish(r, out)


cdef object lowp_binary(int op, str name, int dt, object x1, object x2,
                        object out):
    """A binary element-wise op whose operands promote to the 16-bit float
    ``dt``."""
    if _BIN_OUT[op][<int>kFloat32] < 0:
        raise TypeError(
            f"{name}: not supported for the input dtype {dtype_of(dt)}")
    cdef Tensor a = _lowp_operand(x1, dt, name)
    cdef Tensor b = _lowp_operand(x2, dt, name)
    return _lowp_finish(_binary(op, name, a, b, None), dt, out, name)


cdef object lowp_unary(int op, str name, Tensor a, object out):
    """A unary element-wise op on a 16-bit float tensor."""
    if _UN_OUT[op][<int>kFloat32] < 0:
        raise TypeError(f"{name}: not supported for the input dtype {a.dtype}")
    r = _unary(op, name, cast_to(a, kFloat32), None)
    return _lowp_finish(r, a.dt, out, name)


cdef object lowp_reduce(int op, str name, Tensor t, object axis,
                        bint keepdims, object out, int odt, int64_t ddof):
    """A reduction of a 16-bit float tensor: computed on its float32 copy;
    a result in the input's dtype is rounded back to it, an index or bool
    result is returned as is."""
    cdef int rdt = kFloat32 if odt == t.dt else odt
    r = _reduce(op, name, cast_to(t, kFloat32), axis, keepdims, None, rdt,
                ddof)
    return _lowp_finish(r, t.dt, out, name)


# ---------------------------------------------------------------- autocast

# Per-thread autocast state: `dt` is the DType code products are computed
# in, or -1 outside autocast (fasttensor/amp.py manages it).
cdef object _amp_tls = threading.local()


cdef int autocast_dt() except -2:
    """The calling thread's autocast dtype code, or -1 when off."""
    return getattr(_amp_tls, "dt", -1)


def _autocast_enter(dtype, enabled):
    """Set the calling thread's autocast dtype (or switch it off when
    ``enabled`` is false); returns the previous state for
    :func:`_autocast_exit`."""
    cdef int dt = -1
    if enabled:
        dt = dt_of(dtype)
        if not dt_is_lowp(dt):
            raise TypeError(
                f"autocast: dtype must be fasttensor.bfloat16 or "
                f"fasttensor.float16, got {dtype_of(dt)}")
    previous = getattr(_amp_tls, "dt", -1)
    _amp_tls.dt = dt
    return previous


def _autocast_exit(previous):
    """Restore the state :func:`_autocast_enter` returned."""
    _amp_tls.dt = previous


def _autocast_dtype():
    """The calling thread's autocast dtype, or None outside autocast."""
    cdef int dt = autocast_dt()
    return None if dt < 0 else dtype_of(dt)


# ---------------------------------------------------------------- denormals

def set_flush_denormal(mode):
    """Flush denormal (subnormal) float values to zero, or stop doing so.

    Sets or clears flush-to-zero and denormals-are-zero (MXCSR bits 15 and
    6) on the calling thread and on every thread of its OpenMP team, the
    threads fasttensor's kernels run on.  Subnormal inputs then read as
    zero and subnormal results are written as zero, which avoids the large
    slowdown subnormal operands cause on x86 CPUs.

    Parameters
    ----------
    mode : bool
        True to flush, False to compute with subnormals (IEEE behaviour).

    Returns
    -------
    bool
        True when the setting is supported (x86-64), False otherwise, in
        which case nothing changes.

    Notes
    -----
    The setting belongs to the calling Python thread and its kernel
    threads, as in PyTorch; another Python thread calls this itself.
    Threads added later by a larger :func:`set_num_threads` start with the
    setting of the thread that creates them, the caller.  Conversions to
    and from float16 and bfloat16 are integer or F16C operations and are
    not affected.

    Examples
    --------
    >>> ft.set_flush_denormal(True)
    True
    >>> float(ft.asarray([1e-40]) * 1.0)
    0.0
    >>> ft.set_flush_denormal(False)
    True
    """
    return bool(ft_set_flush_denormal(bool(mode)))


def _flush_denormal_enabled():
    """Whether flush-to-zero and denormals-are-zero are set on the calling
    thread."""
    return bool(ft_flush_denormal_enabled())


# ---------------------------------------------------------------- products
#
# matmul, dot, linear and scaled_dot_product_attention are defined for
# float32 and float64 in _linalg.pxi and _nn.pxi.  The public names are
# bound again below to thin wrappers that add the two reduced-precision
# rules and then call those definitions:
#
#   * autocast: float32 (and 16-bit) operands count as the calling
#     thread's autocast dtype;
#   * 16-bit result dtype: the GEMM (src/ops/gemm.cpp, gemm_lowp) reads
#     each operand in its own format, float16 / bfloat16, or float32
#     rounded to the 16-bit dtype, while packing it into float32 panels,
#     multiplies with the float32 kernels (float32 accumulation, or
#     float64 for dot's inner products), and the float32 result is rounded
#     once to the 16-bit dtype.  No operand is cast in a separate pass,
#     except integer operands and a float16 operand of a bfloat16 product
#     (or the reverse), which are cast to the 16-bit dtype first.
#     Attention does the widening itself (_nn.pxi), except on the
#     bfloat16 engine path below.
#
# bfloat16 products with at least 16 rows, and bfloat16 attention with at
# least 16 query rows, run on a bfloat16 matrix engine (AMX tiles, or
# AVX512-BF16) where the CPU has one (src/ops/gemm_bf16.h); the engine
# reads bfloat16 operands, or float32 ones rounded while packing.
# Everything else runs on the float32 kernels, which read the 16-bit
# operands while packing (attention on them casts its operands first).
# Known shortcoming: the float32 result is rounded to 16 bits in a second
# pass; a product with a 0-d operand (dot) still casts its operands to
# float32 first.

_linalg_matmul = matmul
_linalg_dot = dot
_linalg_linear = linear
_nn_scaled_dot_product_attention = scaled_dot_product_attention


cdef object _autocast_operand(object x, int ac):
    """``x`` rounded to the autocast dtype ``ac`` when it is a float32 or
    16-bit float operand; Python scalars and other dtypes as they are."""
    if x is None or _weak_kind(x) >= 0:
        return x
    cdef Tensor t = as_tensor(x)
    if t.dt == kFloat32 or dt_is_lowp(t.dt):
        return cast_to(t, ac)
    return t


cdef object _as_f32_via(object x, int dt):
    """Operand ``x`` of a product computed for the 16-bit dtype ``dt``:
    rounded to ``dt`` and widened to float32 (Python scalars as they
    are)."""
    if x is None or _weak_kind(x) >= 0:
        return x
    return cast_to(cast_to(as_tensor(x), dt), kFloat32)


cdef dict _AC_PROXY = {}


cdef object _autocast_proxy(object x, int ac):
    """A stand-in for ``x`` in the result-dtype rule under autocast: a 0-d
    tensor of dtype ``ac`` for a float32 or 16-bit float operand, ``x``
    itself otherwise."""
    if x is None or _weak_kind(x) >= 0:
        return x
    cdef Tensor t = as_tensor(x)
    if t.dt == kFloat32 or dt_is_lowp(t.dt):
        p = _AC_PROXY.get(ac)
        if p is None:
            p = cast_to(as_tensor(np.zeros((), dtype=np.float32)), ac)
            _AC_PROXY[ac] = p
        return p
    return t


cdef tuple _product_args(object a, object b, object bias):
    """(result dtype code, a, b, bias) after autocast.  Under autocast the
    float32 and 16-bit float operands count as the autocast dtype; when
    the result dtype is 16-bit they are left as they are (the product
    rounds them while packing), otherwise they are cast to it."""
    cdef int ac = autocast_dt()
    cdef int dt
    if ac < 0:
        dt = result_dt(a, b)
        if bias is not None:
            dt = promote(dt, as_tensor(bias).dt)
        return dt, a, b, bias
    dt = result_dt(_autocast_proxy(a, ac), _autocast_proxy(b, ac))
    if bias is not None:
        dt = promote(dt, (<Tensor>as_tensor(
            _autocast_proxy(bias, ac))).dt)
    if not dt_is_lowp(dt):
        a = _autocast_operand(a, ac)
        b = _autocast_operand(b, ac)
        bias = _autocast_operand(bias, ac)
    return dt, a, b, bias


cdef str _with_lowp_note(object doc):
    """A product's docstring with the reduced-precision paragraph added
    under Notes (a Notes section is made before Examples when there is
    none)."""
    import re
    doc = doc or ""
    m = re.search(r"^([ ]*)Notes\n[ ]*-----\n", doc, re.M)
    if m is None:
        m = re.search(r"^([ ]*)Examples\n", doc, re.M)
        if m is None:
            return doc
        ind = m.group(1)
        return (doc[:m.start()] + f"{ind}Notes\n{ind}-----\n" +
                _lowp_note(ind) + "\n" + doc[m.start():])
    return doc[:m.end()] + _lowp_note(m.group(1)) + "\n" + doc[m.end():]


cdef str _lowp_note(str ind):
    return (
        f"{ind}float16 and bfloat16 operands (or float32 ones inside\n"
        f"{ind}``autocast``) are multiplied as float32 values with float32\n"
        f"{ind}accumulation and the result is rounded once to the 16-bit\n"
        f"{ind}dtype.\n")


def matmul(x1, x2, out=None):
    dt, x1, x2, _ = _product_args(x1, x2, None)
    if not dt_is_lowp(dt):
        return _linalg_matmul(x1, x2, out=out)
    r = _matmul(x1, x2, None, "matmul", dt)
    return _lowp_finish(r, dt, out, "matmul")


def dot(a, b, out=None):
    dt, a, b, _ = _product_args(a, b, None)
    if not dt_is_lowp(dt):
        return _linalg_dot(a, b, out=out)
    if (<Tensor>as_tensor(a)).nd == 0 or (<Tensor>as_tensor(b)).nd == 0:
        r = _linalg_dot(_as_f32_via(a, dt), _as_f32_via(b, dt))
    else:
        r = _dot(a, b, None, dt)
    return _lowp_finish(r, dt, out, "dot")


def linear(x, weight, bias=None):
    packed = None
    if isinstance(weight, PackedLinearWeight):
        packed = weight
        weight = packed.weight
    dt, x, weight, bias = _product_args(x, weight, bias)
    if not dt_is_lowp(dt):
        if packed is not None:
            return _linear(x, weight, bias, -1, packed)
        return _linalg_linear(x, weight, bias)
    r = _linear(x, weight, bias, dt, packed)
    return _lowp_finish(r, dt, None, "linear")


def scaled_dot_product_attention(query, key, value, attn_mask=None,
                                 dropout_p=0.0, is_causal=False, scale=None,
                                 enable_gqa=False):
    cdef int ac = autocast_dt()
    cdef bint f32_as_bf16 = False
    if ac >= 0:
        # float32 operands of a bfloat16 autocast go to _attention as they
        # are (the engine path rounds them while packing); other mixes are
        # cast here.
        query, key, value = as_tensor(query), as_tensor(key), as_tensor(value)
        f32_as_bf16 = (ac == kBFloat16 and (<Tensor>query).dt == kFloat32 and
                       (<Tensor>key).dt == kFloat32 and
                       (<Tensor>value).dt == kFloat32)
        if not f32_as_bf16:
            query = _autocast_operand(query, ac)
            key = _autocast_operand(key, ac)
            value = _autocast_operand(value, ac)
        if attn_mask is not None and as_tensor(attn_mask).dt != kBool:
            attn_mask = _autocast_operand(attn_mask, ac)
    return _attention(query, key, value, attn_mask, dropout_p, is_causal,
                      scale, enable_gqa, f32_as_bf16)


class PackedLinearWeight:
    """A linear layer's weight packed once into the GEMM's panels.

    The panels are the float32 kernels' layout, plus, for a bfloat16
    weight packed while a bfloat16 matrix engine runs, that engine's.

    Made by :func:`fasttensor.nn.prepack_linear`; pass it as the weight of
    :func:`fasttensor.nn.linear` (or ``fasttensor.linear``).  It behaves
    exactly like its :attr:`weight`: same result dtype, same promotion and
    autocast rules, bitwise the same values.  Products that would pack the
    weight on every call (enough rows for the packed GEMM path) read the
    panels instead; the others (one row, small or skinny products, a
    rounding other than the one packed, or cache blocks changed since
    packing) multiply :attr:`weight` itself.

    Attributes
    ----------
    weight : Tensor, shape (out_features, in_features)
        The weight, in :attr:`dtype`.
    shape : tuple of int
        ``(out_features, in_features)``.
    dtype : numpy.dtype
        float32, float16 or bfloat16.
    nbytes : int
        Bytes held by the panels (float32, ``in_features`` x
        ``out_features`` rounded up to the register tile, plus, for a
        bfloat16 weight on a CPU with a bfloat16 matrix engine, the
        engine's bfloat16 panels), in addition to the weight.
    """

    def __init__(self, weight, dtype=None):
        cdef Tensor w = as_tensor(weight)
        if dtype is not None:
            w = cast_to(w, dt_of(dtype))
        if w.nd != 2:
            raise ValueError(
                f"prepack_linear: weight must be 2-D (out_features, "
                f"in_features), got weight.shape={w.shape}")
        if w.dt != kFloat32 and not dt_is_lowp(w.dt):
            raise TypeError(
                f"prepack_linear: weight dtype must be float32, float16 or "
                f"bfloat16, got {w.dtype}")
        if not _strides_in_elements(w):
            w = copy_tensor(w)
        cdef int64_t nout = w.shp[0]
        cdef int64_t kin = w.shp[1]
        cdef size_t nbytes = _ft_gemm_prepacked_b_bytes(kin, nout)
        cdef int64_t count = <int64_t>(nbytes // 4)
        cdef Tensor panels = new_tensor(1, &count, kFloat32)
        cdef int64_t kc = 0
        cdef int status
        cdef int rt = w.dt
        cdef int64_t rs_b = _estride(w, 1)
        cdef int64_t cs_b = _estride(w, 0)
        with nogil:
            status = _ft_gemm_prepack_b(
                <DType>rt, kin, nout, w.data, <DType>rt, rs_b, cs_b,
                <float*>panels.data, &kc)
        check_status(status, "prepack_linear")
        self.weight = w
        self._panels = panels
        self._kc = kc
        self._round_to = rt
        # A bfloat16 weight is also packed for the bfloat16 matrix engine
        # when one runs (products with enough rows go there).
        self._engine, self._engine_panels = (
            _bf16_engine_pack_weight(w) if rt == kBFloat16 else (-1, None))

    @property
    def shape(self):
        return self.weight.shape

    @property
    def dtype(self):
        return self.weight.dtype

    @property
    def nbytes(self):
        cdef int64_t extra = 0
        if self._engine_panels is not None:
            extra = (<Tensor>self._engine_panels).shp[0]
        return int((<Tensor>self._panels).shp[0]) * 4 + int(extra)

    def __repr__(self):
        return (f"PackedLinearWeight(shape={self.shape}, dtype={self.dtype}, "
                f"panel_bytes={self.nbytes})")


def prepack_linear(weight, dtype=None):
    """Pack a linear layer's weight once for repeated products.

    Parameters
    ----------
    weight : array_like, shape (out_features, in_features)
        float32, float16 or bfloat16 (after ``dtype``).
    dtype : dtype, optional
        Cast the weight to this dtype first (float32, float16 or bfloat16).

    Returns
    -------
    PackedLinearWeight
        Accepted as the weight by :func:`fasttensor.nn.linear`, with the
        same results (bitwise) as the weight itself.

    Raises
    ------
    ValueError
        If ``weight`` is not 2-D.
    TypeError
        If the weight's dtype is not float32, float16 or bfloat16.

    Examples
    --------
    >>> import fasttensor as ft
    >>> w = ft.nn.prepack_linear(ft.ones((5, 3)), dtype=ft.bfloat16)
    >>> w.shape, str(w.dtype)
    ((5, 3), 'bfloat16')
    >>> str(ft.nn.linear(ft.ones((64, 3)), w).dtype)
    'bfloat16'
    """
    return PackedLinearWeight(weight, dtype)


matmul.__doc__ = _with_lowp_note(_linalg_matmul.__doc__)
dot.__doc__ = _with_lowp_note(_linalg_dot.__doc__)
linear.__doc__ = _with_lowp_note(_linalg_linear.__doc__)
scaled_dot_product_attention.__doc__ = _with_lowp_note(
    _nn_scaled_dot_product_attention.__doc__)


def _matmul_f32(x1, x2, dtype):
    """The float32 product matmul rounds to the 16-bit ``dtype``, before
    that rounding: the operands are rounded to ``dtype`` while packing.
    For tests, which compare it bitwise with the float32 product of
    rounded operands."""
    cdef int rt = dt_of(dtype)
    if not dt_is_lowp(rt):
        raise TypeError(f"_matmul_f32: dtype must be float16 or bfloat16, "
                        f"got {dtype_of(rt)}")
    return _matmul(x1, x2, None, "matmul", rt)
