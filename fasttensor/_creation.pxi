# Creation functions: asarray, tensor, zeros, ones, arange, ..., and random
# numbers written straight into pool memory.

cdef int parse_shape(object shape, int64_t* out, str op) except -1:
    """Read a shape given as an int or a sequence of ints; returns ndim."""
    if isinstance(shape, (int, np.integer)) and not isinstance(shape, bool):
        shape = (shape,)
    elif isinstance(shape, Tensor):
        shape = shape.tolist()
        if not isinstance(shape, list):
            shape = [shape]
    try:
        dims = [operator.index(s) for s in shape]
    except TypeError:
        raise TypeError(
            f"{op}: shape must be an int or a sequence of ints, got {shape!r}") from None
    if len(dims) > MAXDIM:
        raise ValueError(
            f"{op}: at most {MAXDIM} dimensions are supported, got {len(dims)}")
    for i, d in enumerate(dims):
        if d < 0:
            raise ValueError(
                f"{op}: negative dimensions are not allowed: {tuple(dims)}")
        out[i] = d
    return len(dims)


cdef object _shape_args(tuple args):
    """Accept f(2, 3) and f((2, 3)) alike, as PyTorch does."""
    if len(args) == 1 and not isinstance(args[0], (int, np.integer)):
        return args[0]
    return args


cdef int _default_dt(object dtype, int fallback) except -1:
    return fallback if dtype is None else dt_of(dtype)


def asarray(obj, dtype=None, *, copy=None, device=None):
    """Convert the input to a tensor, sharing memory where possible.

    Parameters
    ----------
    obj : array_like
        A Tensor, a NumPy array, an object with the buffer protocol or
        ``__dlpack__``, a Python scalar or (nested) sequence.
    dtype : dtype, optional
        The tensor's dtype.  By default NumPy arrays keep theirs and Python
        floats give float32 (fasttensor's default floating dtype).
    copy : bool, optional
        True always copies; False never does (ValueError when a copy is
        needed); None copies only when needed.
    device : {None, "cpu"}, optional

    Returns
    -------
    Tensor

    Raises
    ------
    TypeError
        For dtypes fasttensor lacks (complex, object, strings).
    ValueError
        For ragged sequences, or ``copy=False`` when a copy is needed.

    See Also
    --------
    numpy.asarray, tensor, from_numpy

    Examples
    --------
    >>> import fasttensor as ft
    >>> ft.asarray([[1.0, 2.0], [3.0, 4.0]]).dtype
    dtype('float32')
    """
    if device not in (None, "cpu"):
        raise ValueError(f"asarray: unsupported device {device!r}")
    cdef Tensor t
    cdef bint fresh = False
    cdef int want
    if dtype is not None:
        want = dt_of(dtype)
        if _weak_kind(obj) >= 0:
            t = scalar_tensor(obj, want, "asarray", True)
            fresh = True
        elif isinstance(obj, (list, tuple)):
            try:
                arr = np.asarray(obj, dtype=_DTYPE_OF[want])
            except ValueError as e:
                raise ValueError(f"asarray: {e}") from None
            t = wrap_ndarray(arr)
            fresh = True
        else:
            t = _convert(obj, dtype, "asarray")
    else:
        t = _convert(obj, None, "asarray")
        fresh = not isinstance(obj, (Tensor, np.ndarray)) and (
            _weak_kind(obj) >= 0 or isinstance(obj, (list, tuple)))
        want = t.dt
    if want != t.dt:
        if copy is False:
            raise ValueError(
                f"asarray: converting {t.dtype} to {_DTYPE_OF[want]} needs a "
                "copy, but copy=False")
        return cast_copy(t, want)
    if copy:
        return copy_tensor(t)
    if fresh:
        if copy is False and isinstance(obj, (list, tuple)):
            raise ValueError(
                "asarray: a Python sequence must be copied, but copy=False")
        # Data from Python objects goes into pool memory like any tensor.
        return copy_tensor(t)
    return t


def tensor(data, dtype=None):
    """A new tensor holding a copy of ``data`` (PyTorch's ``torch.tensor``).

    Python floats give float32, Python ints int64; NumPy arrays keep their
    dtype.  See :func:`asarray` for the accepted inputs.
    """
    return asarray(data, dtype=dtype, copy=True)


def from_numpy(ndarray):
    """A tensor sharing the memory of a NumPy array (never copies).

    Raises
    ------
    TypeError
        When ``ndarray`` is not a ``numpy.ndarray`` or has a dtype
        fasttensor lacks.
    """
    if not isinstance(ndarray, np.ndarray):
        raise TypeError(
            f"from_numpy: expected numpy.ndarray, got {type(ndarray).__name__}")
    if not ndarray.dtype.isnative:
        raise TypeError(
            f"from_numpy: non-native byte order {ndarray.dtype} cannot be shared")
    return wrap_ndarray(ndarray)


def empty(*shape, dtype=None):
    """A tensor of the given shape with uninitialised contents.

    ``shape`` may be ints or one sequence; ``dtype`` defaults to float32.
    """
    cdef int64_t dims[MAXDIM]
    cdef int nd = parse_shape(_shape_args(shape), dims, "empty")
    return new_tensor(nd, dims, _default_dt(dtype, kFloat32))


cdef Tensor _filled(tuple shape, object value, int dt, str op):
    cdef int64_t dims[MAXDIM]
    cdef int nd = parse_shape(_shape_args(shape), dims, op)
    cdef Tensor t = new_tensor(nd, dims, dt)
    cdef Tensor v = scalar_tensor(value, dt, op, True)
    cdef int status
    with nogil:
        status = ew_fill(<DType>dt, t.nd, t.shp, t.data, t.strd, v.data)
    check_status(status, op)
    return t


def zeros(*shape, dtype=None):
    """A tensor of zeros; ``dtype`` defaults to float32."""
    return _filled(shape, 0, _default_dt(dtype, kFloat32), "zeros")


def ones(*shape, dtype=None):
    """A tensor of ones; ``dtype`` defaults to float32."""
    return _filled(shape, 1, _default_dt(dtype, kFloat32), "ones")


def full(shape, fill_value, dtype=None):
    """A tensor filled with ``fill_value``.

    Without ``dtype``: bool for bool values, int64 for ints, float32 for
    floats (a tensor or NumPy value keeps its dtype).
    """
    if dtype is None:
        kind = _weak_kind(fill_value)
        if kind == 0:
            dt = kBool
        elif kind == 1:
            dt = kInt64
        elif kind == 2:
            dt = kFloat32
        else:
            dt = as_tensor(fill_value).dt
            fill_value = as_tensor(fill_value).item()
    else:
        dt = dt_of(dtype)
    return _filled((shape,), fill_value, dt, "full")


def empty_like(x, dtype=None):
    """An uninitialised tensor with the shape (and dtype) of ``x``."""
    cdef Tensor t = as_tensor(x)
    return new_tensor(t.nd, t.shp, t.dt if dtype is None else dt_of(dtype))


def zeros_like(x, dtype=None):
    """Zeros with the shape (and dtype) of ``x``."""
    cdef Tensor t = as_tensor(x)
    return _filled((t.shape,), 0, t.dt if dtype is None else dt_of(dtype),
                   "zeros_like")


def ones_like(x, dtype=None):
    """Ones with the shape (and dtype) of ``x``."""
    cdef Tensor t = as_tensor(x)
    return _filled((t.shape,), 1, t.dt if dtype is None else dt_of(dtype),
                   "ones_like")


def full_like(x, fill_value, dtype=None):
    """``fill_value`` everywhere, with the shape (and dtype) of ``x``."""
    cdef Tensor t = as_tensor(x)
    return _filled((t.shape,), fill_value,
                   t.dt if dtype is None else dt_of(dtype), "full_like")


def arange(start, stop=None, step=1, dtype=None):
    """Evenly spaced values in ``[start, stop)``.

    Integer arguments give int64, any float gives float32 (unless ``dtype``
    says otherwise).  Values are computed as NumPy computes them.
    """
    if stop is None:
        start, stop = 0, start
    if step == 0:
        raise ValueError("arange: step must not be zero")
    args = (start, stop, step)
    if dtype is None:
        if builtins.all(isinstance(a, (int, np.integer)) for a in args):
            dtype = np.int64
        else:
            dtype = np.float32
    want = _DTYPE_OF[dt_of(dtype)]
    calc = np.float64 if want.kind == "f" else want
    return asarray(np.arange(start, stop, step, dtype=calc).astype(want), copy=True)


def linspace(start, stop, num=50, endpoint=True, dtype=None):
    """``num`` evenly spaced values from ``start`` to ``stop`` (float32
    unless ``dtype`` says otherwise)."""
    num = operator.index(num)
    if num < 0:
        raise ValueError(f"linspace: num must be non-negative, got {num}")
    want = np.float32 if dtype is None else _DTYPE_OF[dt_of(dtype)]
    vals = np.linspace(start, stop, num, endpoint=endpoint, dtype=np.float64)
    return asarray(vals.astype(want), copy=True)


def eye(N, M=None, k=0, dtype=None):
    """A 2-D tensor with ones on diagonal ``k`` and zeros elsewhere."""
    M = N if M is None else M
    cdef Tensor t = zeros(N, M, dtype=dtype)
    to_numpy(t)[...] = np.eye(N, M, k, dtype=t.dtype)
    return t


# ---------------------------------------------------------------- random

_rng = np.random.default_rng()


def manual_seed(seed):
    """Seed fasttensor's random generator (NumPy's PCG64)."""
    global _rng
    _rng = np.random.default_rng(seed)
    return _rng


def _random_into(str kind, tuple shape, object dtype, str op):
    cdef int dt = _default_dt(dtype, kFloat32)
    if dt != kFloat32 and dt != kFloat64:
        raise TypeError(f"{op}: dtype must be float32 or float64, got {_DTYPE_OF[dt]}")
    cdef int64_t dims[MAXDIM]
    cdef int nd = parse_shape(_shape_args(shape), dims, op)
    cdef Tensor t = new_tensor(nd, dims, dt)
    view = to_numpy(t)
    if kind == "normal":
        _rng.standard_normal(out=view, dtype=view.dtype)
    else:
        _rng.random(out=view, dtype=view.dtype)
    return t


def randn(*shape, dtype=None):
    """Samples of the standard normal distribution (float32 by default)."""
    return _random_into("normal", shape, dtype, "randn")


def rand(*shape, dtype=None):
    """Samples uniform on [0, 1) (float32 by default)."""
    return _random_into("uniform", shape, dtype, "rand")


def randint(low, high=None, size=(), dtype=None):
    """Random integers in ``[low, high)`` (int64 by default)."""
    if high is None:
        low, high = 0, low
    want = np.int64 if dtype is None else _DTYPE_OF[dt_of(dtype)]
    return asarray(_rng.integers(low, high, size=size, dtype=want), copy=True)
