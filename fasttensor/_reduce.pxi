# Reductions: sum, prod, mean, var, std, max, min, argmax, argmin, any, all.
#
# NumPy's rules throughout: `axis` is None, an int or a tuple (negative
# counts from the end; out of range raises AxisError), `keepdims` keeps
# reduced dims as size 1, result dtypes are NumPy's (sum of int32 or bool
# is int64, mean of integers is float64), and max/min/argmax/argmin of an
# empty reduction raise ValueError.  float16 and bfloat16 inputs are
# reduced in float32 and the result rounded back (_lowp.pxi).  The input
# is never copied to bring the reduced axes together: the kernel walks any
# strides (see src/kernels/reduce.inl).

cdef extern from *:
    """
    #include "ops/elementwise.h"
    static inline int ft_ew_reduce(int op, int dt, int nd,
                                   const int64_t* shape, const char* in,
                                   const int64_t* si, int nred, char* out,
                                   const int64_t* so, int64_t ddof) {
        return ft::ew_reduce((ft::RedOp)op, (ft::DType)dt, nd, shape, in, si,
                             nred, out, so, ddof);
    }
    """
    int ft_ew_reduce(int op, int dt, int nd, const int64_t* shape,
                     const char* inp, const int64_t* si, int nred, char* out,
                     const int64_t* so, int64_t ddof) nogil


# The order of ft::RedOp (ops/elementwise.h).
cdef enum:
    R_SUM = 0
    R_PROD
    R_MAX
    R_MIN
    R_ARGMAX
    R_ARGMIN
    R_ANY
    R_ALL
    R_MEAN
    R_VAR


cdef int _reduced_axes(object axis, int nd, str name, bint* red) except -1:
    """Marks the reduced axes in ``red``; returns how many there are."""
    cdef int i, n = 0
    for i in range(nd):
        red[i] = axis is None
    if axis is None:
        return nd
    if isinstance(axis, (tuple, list)):
        for a in axis:
            i = norm_axis(a, nd, name)
            if red[i]:
                raise ValueError(f"{name}: duplicate value in 'axis'")
            red[i] = True
            n += 1
        return n
    red[norm_axis(axis, nd, name)] = True
    return 1


cdef object _reduce(int op, str name, Tensor t, object axis, bint keepdims,
                    object out, int odt, int64_t ddof=0):
    """Reduce ``t`` (already in the kernel's dtype) over ``axis`` into a
    result of dtype ``odt``."""
    cdef bint red[MAXDIM]
    cdef int64_t pshape[MAXDIM]
    cdef int64_t pstrd[MAXDIM]
    cdef int64_t oshape[MAXDIM]
    cdef int64_t ostrd[MAXDIM]
    cdef int nd = t.nd
    cdef int i, k = 0, ond = 0, nred, status
    cdef int64_t rcount = 1, kcount = 1
    cdef Tensor o
    if dt_is_lowp(t.dt):
        return lowp_reduce(op, name, t, axis, keepdims, out, odt, ddof)
    nred = _reduced_axes(axis, nd, name, red)
    # Kept dims first, reduced dims last, each in their original order.
    for i in range(nd):
        if not red[i]:
            pshape[k] = t.shp[i]
            pstrd[k] = t.strd[i]
            kcount *= t.shp[i]
            k += 1
    for i in range(nd):
        if red[i]:
            pshape[k] = t.shp[i]
            pstrd[k] = t.strd[i]
            rcount *= t.shp[i]
            k += 1
    for i in range(nd):
        if keepdims:
            oshape[ond] = 1 if red[i] else t.shp[i]
            ond += 1
        elif not red[i]:
            oshape[ond] = t.shp[i]
            ond += 1
    if rcount == 0 and kcount != 0:
        if op == R_MAX or op == R_MIN:
            raise ValueError(
                f"zero-size array to reduction operation "
                f"{'maximum' if op == R_MAX else 'minimum'} which has no identity")
        if op == R_ARGMAX or op == R_ARGMIN:
            raise ValueError(f"attempt to get {name} of an empty sequence")
    o = _result_out(out, ond, oshape, odt, name)
    if keepdims:
        k = 0
        for i in range(nd):
            if not red[i]:
                ostrd[k] = o.strd[i]
                k += 1
    else:
        for i in range(ond):
            ostrd[i] = o.strd[i]
    if out is not None and shares_buffer(t, o):
        t = copy_tensor(t)
        return _reduce(op, name, t, axis, keepdims, out, odt, ddof)
    if numel(t) * t.itemsize >= NOGIL_BYTES:
        with nogil:
            status = ft_ew_reduce(op, t.dt, nd, pshape, t.data, pstrd, nred,
                                  o.data, ostrd, ddof)
    else:
        status = ft_ew_reduce(op, t.dt, nd, pshape, t.data, pstrd, nred,
                              o.data, ostrd, ddof)
    check_status(status, name)
    return _finish(o, out)


cdef int _sum_dt(int dt) noexcept:
    """NumPy's accumulator dtype for sum/prod without dtype=."""
    if dt == kBool or kInt8 <= dt <= kInt32:
        return kInt64
    if kUInt8 <= dt <= kUInt32:
        return kUInt64
    return dt


cdef object _sum_like(int op, str name, object a, object axis, object dtype,
                      object out, bint keepdims):
    cdef Tensor t = as_tensor(a)
    cdef int cdt = _sum_dt(t.dt) if dtype is None else dt_of(dtype)
    return _reduce(op, name, cast_to(t, cdt), axis, keepdims, out, cdt)


def sum(a, axis=None, dtype=None, out=None, keepdims=False):
    """Sum of elements over the given axes (NumPy's ``sum``).

    Parameters
    ----------
    a : Tensor or array_like
    axis : None, int or tuple of ints
        Axes to reduce; None reduces all.  Negative values count from the
        end.
    dtype : dtype, optional
        Accumulate and return in this dtype.  By default bool and integers
        narrower than 64 bits accumulate in int64 (uint64 for unsigned).
    out : Tensor, optional
        Where to write the result (shape and 'same_kind' cast checked).
    keepdims : bool
        Keep the reduced axes as size-1 dims.

    Returns
    -------
    Tensor

    Raises
    ------
    numpy.exceptions.AxisError
        For an axis out of range.
    ValueError
        For a repeated axis or a wrongly shaped ``out``.

    Notes
    -----
    float32 sums are accumulated in blocks of vector lanes whose partial
    sums are combined in float64, which is at least as accurate as NumPy's
    pairwise summation.

    Examples
    --------
    >>> ft.sum(ft.ones((2, 3)), axis=0).tolist()
    [2.0, 2.0, 2.0]
    """
    return _sum_like(R_SUM, "sum", a, axis, dtype, out, keepdims)


def prod(a, axis=None, dtype=None, out=None, keepdims=False):
    """Product of elements over the given axes; see :func:`sum` for the
    arguments.  Integer products wrap around, as in NumPy."""
    return _sum_like(R_PROD, "prod", a, axis, dtype, out, keepdims)


cdef object _float_stat(int op, str name, object a, object axis, object dtype,
                        object out, bint keepdims, int64_t ddof):
    cdef Tensor t = as_tensor(a)
    cdef int cdt, rdt
    if dtype is None:
        cdt = t.dt if dt_is_float(t.dt) else kFloat64
        rdt = cdt
    else:
        rdt = dt_of(dtype)
        cdt = rdt if dt_is_float(rdt) else kFloat64
    if rdt == cdt:
        return _reduce(op, name, cast_to(t, cdt), axis, keepdims, out, cdt, ddof)
    r = _reduce(op, name, cast_to(t, cdt), axis, keepdims, None, cdt, ddof)
    r = cast_to(<Tensor>r, rdt)
    if out is None:
        return r
    _result_out(out, (<Tensor>r).nd, (<Tensor>r).shp, rdt, name)
    return _finish(<Tensor>r, out)


def mean(a, axis=None, dtype=None, out=None, keepdims=False):
    """Arithmetic mean over the given axes (NumPy's ``mean``).

    Integers and bool are averaged in float64; an empty reduction gives
    NaN.  See :func:`sum` for the arguments.
    """
    return _float_stat(R_MEAN, "mean", a, axis, dtype, out, keepdims, 0)


def var(a, axis=None, dtype=None, out=None, ddof=0, keepdims=False):
    """Variance over the given axes, ``sum((x - mean)**2) / (n - ddof)``.

    Two passes (the mean, then the squared deviations), so there is no
    cancellation for data far from zero.  See :func:`sum` for the other
    arguments.

    Parameters
    ----------
    ddof : int
        Delta degrees of freedom; ``n - ddof <= 0`` gives inf or NaN, as in
        NumPy.
    """
    ddof = operator.index(ddof)
    return _float_stat(R_VAR, "var", a, axis, dtype, out, keepdims, ddof)


def std(a, axis=None, dtype=None, out=None, ddof=0, keepdims=False):
    """Standard deviation, ``sqrt(var(...))``; see :func:`var`."""
    ddof = operator.index(ddof)
    r = _float_stat(R_VAR, "std", a, axis, dtype, out, keepdims, ddof)
    return sqrt(r, out=r)


def max(a, axis=None, out=None, keepdims=False):
    """Maximum over the given axes (NumPy's ``max``); NaN propagates.

    Raises
    ------
    ValueError
        For an empty reduction ("zero-size array to reduction operation
        maximum which has no identity").
    """
    cdef Tensor t = as_tensor(a)
    return _reduce(R_MAX, "max", t, axis, keepdims, out, t.dt)


def min(a, axis=None, out=None, keepdims=False):
    """Minimum over the given axes; see :func:`max`."""
    cdef Tensor t = as_tensor(a)
    return _reduce(R_MIN, "min", t, axis, keepdims, out, t.dt)


amax = max
amin = min


cdef object _arg(int op, str name, object a, object axis, object out,
                 bint keepdims):
    cdef Tensor t = as_tensor(a)
    if axis is not None:
        try:
            axis = operator.index(axis)
        except TypeError:
            raise TypeError(
                f"{name}: axis must be None or an integer, got "
                f"{type(axis).__name__}") from None
    return _reduce(op, name, t, axis, keepdims, out, kInt64)


def argmax(a, axis=None, out=None, keepdims=False):
    """Index of the maximum along ``axis`` (into the flattened tensor when
    axis is None); the first occurrence wins and the first NaN counts as
    the maximum, as in NumPy.

    Raises
    ------
    ValueError
        For an empty sequence.
    """
    return _arg(R_ARGMAX, "argmax", a, axis, out, keepdims)


def argmin(a, axis=None, out=None, keepdims=False):
    """Index of the minimum along ``axis``; see :func:`argmax`."""
    return _arg(R_ARGMIN, "argmin", a, axis, out, keepdims)


def any(a, axis=None, out=None, keepdims=False):
    """Whether any element over the given axes is non-zero (bool)."""
    cdef Tensor t = as_tensor(a)
    return _reduce(R_ANY, "any", t, axis, keepdims, out, kBool)


def all(a, axis=None, out=None, keepdims=False):
    """Whether all elements over the given axes are non-zero (bool)."""
    cdef Tensor t = as_tensor(a)
    return _reduce(R_ALL, "all", t, axis, keepdims, out, kBool)
