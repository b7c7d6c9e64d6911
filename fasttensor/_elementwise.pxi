# Element-wise arithmetic, comparisons, logic, math functions, where, clip.
#
# Every function follows NumPy's ufunc rules: broadcasting, NumPy 2 dtype
# promotion with weak Python scalars (float32_tensor * 2.0 stays float32),
# and `out=` checked for shape and same-kind castability.  The result dtype
# of each op for each input dtype is read from NumPy itself at import
# (tables below), with one deviation: where NumPy gives float16 (exp of
# int8, uint8 or bool), fasttensor gives float32.  float16 and bfloat16
# operands are computed in float32 and rounded back (_lowp.pxi).

cdef extern from *:
    """
    #include "ops/elementwise.h"
    static inline int ft_ew_binary(int op, int dt, int nd, const int64_t* shape,
                                   const char* a, const int64_t* sa,
                                   const char* b, const int64_t* sb,
                                   char* out, const int64_t* so) {
        return ft::ew_binary((ft::BinOp)op, (ft::DType)dt, nd, shape,
                             a, sa, b, sb, out, so);
    }
    static inline int ft_ew_unary(int op, int dt, int nd, const int64_t* shape,
                                  const char* a, const int64_t* sa,
                                  char* out, const int64_t* so) {
        return ft::ew_unary((ft::UnOp)op, (ft::DType)dt, nd, shape,
                            a, sa, out, so);
    }
    static inline int ft_ew_where(int dt, int nd, const int64_t* shape,
                                  const char* c, const int64_t* sc,
                                  const char* x, const int64_t* sx,
                                  const char* y, const int64_t* sy,
                                  char* out, const int64_t* so) {
        return ft::ew_where((ft::DType)dt, nd, shape, c, sc, x, sx, y, sy,
                            out, so);
    }
    """
    int ft_ew_binary(int op, int dt, int nd, const int64_t* shape,
                     const char* a, const int64_t* sa,
                     const char* b, const int64_t* sb,
                     char* out, const int64_t* so) nogil
    int ft_ew_unary(int op, int dt, int nd, const int64_t* shape,
                    const char* a, const int64_t* sa,
                    char* out, const int64_t* so) nogil
    int ft_ew_where(int dt, int nd, const int64_t* shape,
                    const char* c, const int64_t* sc,
                    const char* x, const int64_t* sx,
                    const char* y, const int64_t* sy,
                    char* out, const int64_t* so) nogil


# Op codes: the order of ft::BinOp and ft::UnOp (ops/elementwise.h).
cdef enum:
    B_ADD = 0
    B_SUB
    B_MUL
    B_DIV
    B_FLOORDIV
    B_MOD
    B_POW
    B_MAX
    B_MIN
    B_EQ
    B_NE
    B_LT
    B_LE
    B_GT
    B_GE
    B_LAND
    B_LOR
    B_LXOR
    B_BAND
    B_BOR
    B_BXOR
    B_COUNT

cdef enum:
    U_NEG = 0
    U_POS
    U_ABS
    U_EXP
    U_LOG
    U_SQRT
    U_TANH
    U_SIGMOID
    U_RELU
    U_SILU
    U_GELU
    U_GELU_TANH
    U_ERF
    U_SQUARE
    U_NOT
    U_ISNAN
    U_COUNT

_BIN_UFUNCS = [np.add, np.subtract, np.multiply, np.true_divide,
               np.floor_divide, np.remainder, np.power, np.maximum,
               np.minimum, np.equal, np.not_equal, np.less, np.less_equal,
               np.greater, np.greater_equal, np.logical_and, np.logical_or,
               np.logical_xor, np.bitwise_and, np.bitwise_or, np.bitwise_xor]
# The transcendental functions NumPy lacks (sigmoid, gelu, silu, erf) take
# exp's dtypes; relu keeps integer dtypes (it is maximum(x, 0) there).
_UN_UFUNCS = [np.negative, np.positive, np.absolute, np.exp, np.log, np.sqrt,
              np.tanh, np.exp, None, np.exp, np.exp, np.exp, np.exp, np.square,
              np.logical_not, np.isnan]

# Output dtype per (op, input dtype); -1 where NumPy has no loop.
cdef int _BIN_OUT[B_COUNT][kNumDTypes]
cdef int _UN_OUT[U_COUNT][kNumDTypes]


cdef int _table_dt(object d) except -2:
    if d == np.float16:
        return kFloat32
    code = _DT_OF.get(d)
    return -1 if code is None else code


def _fill_type_tables():
    import warnings
    cdef int op, dt
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for op in range(B_COUNT):
            for dt in range(kNumDTypes):
                _BIN_OUT[op][dt] = -1
                d = _DTYPE_OF[dt]
                if d is None:
                    continue
                z = np.ones(1, d)
                try:
                    _BIN_OUT[op][dt] = _table_dt(_BIN_UFUNCS[op](z, z).dtype)
                except TypeError:
                    pass
        for op in range(U_COUNT):
            for dt in range(kNumDTypes):
                _UN_OUT[op][dt] = -1
                d = _DTYPE_OF[dt]
                if d is None:
                    continue
                if op == U_RELU:
                    _UN_OUT[op][dt] = (dt if dt != kBool else kBool)
                    continue
                try:
                    _UN_OUT[op][dt] = _table_dt(
                        _UN_UFUNCS[op](np.ones(1, d)).dtype)
                except TypeError:
                    pass


_fill_type_tables()


cdef inline bint _bool_result(int op) noexcept:
    return B_EQ <= op <= B_LXOR


cdef bint _same_view(Tensor a, Tensor b) noexcept:
    cdef int i
    if a.data != b.data or a.nd != b.nd:
        return False
    for i in range(a.nd):
        if a.strd[i] != b.strd[i] or a.shp[i] != b.shp[i]:
            return False
    return True


cdef Tensor _no_overlap(Tensor x, Tensor o):
    """``x``, or a copy of it when it shares memory with the output without
    being the very same view (in-place ops on the same view are safe)."""
    if x is o or _same_view(x, o) or not shares_buffer(x, o):
        return x
    return copy_tensor(x)


cdef Tensor _result_out(object out, int nd, const int64_t* shape, int dt,
                        str name):
    """The tensor the kernel writes: a new one, ``out`` itself, or (when
    ``out`` has another dtype that the result may be cast to under
    'same_kind') a temporary copied into ``out`` afterwards."""
    if out is None:
        return new_tensor(nd, shape, dt)
    if isinstance(out, tuple) and len(out) == 1:
        out = out[0]
    if isinstance(out, Tensor) and (<Tensor>out).dt != dt:
        o = <Tensor>out
        if not np.can_cast(dtype_of(dt), o.dtype, "same_kind"):
            raise TypeError(
                f"{name}: cannot cast the result from dtype {dtype_of(dt)} to "
                f"the out dtype {o.dtype} with casting rule 'same_kind'")
        prepare_out(out, nd, shape, o.dt, name)
        return new_tensor(nd, shape, dt)
    return prepare_out(out, nd, shape, dt, name)


cdef object _finish(Tensor res, object out):
    if out is None:
        return res
    if isinstance(out, tuple):
        out = out[0]
    if res is not out:
        copy_into(<Tensor>out, res)
    return out


cdef object _binary(int op, str name, object x1, object x2, object out):
    cdef Tensor a, b, o
    cdef int dt, odt, cdt, nd, status
    cdef int64_t shape[MAXDIM]
    if (type(x1) is Tensor and type(x2) is Tensor
            and (<Tensor>x1).dt == (<Tensor>x2).dt):
        dt = (<Tensor>x1).dt
    else:
        dt = result_dt(x1, x2)
    if dt_is_lowp(dt):
        return lowp_binary(op, name, dt, x1, x2, out)
    odt = _BIN_OUT[op][dt]
    if odt < 0:
        raise TypeError(
            f"{name}: not supported for the input dtype {dtype_of(dt)}")
    cdt = dt if _bool_result(op) else odt
    a = operand(x1, cdt, name)
    b = operand(x2, cdt, name)
    nd = broadcast_shape(a.nd, a.shp, b.nd, b.shp, shape, name)
    if op == B_POW and dt_is_int(cdt) and not dt_is_unsigned(cdt):
        if (to_numpy(b) < 0).any():
            raise ValueError(
                f"{name}: Integers to negative integer powers are not allowed.")
    o = _result_out(out, nd, shape, odt, name)
    a = expand_to(a, nd, shape, name)
    b = expand_to(b, nd, shape, name)
    if out is not None:
        a = _no_overlap(a, o)
        b = _no_overlap(b, o)
    if numel(o) * a.itemsize >= NOGIL_BYTES:
        with nogil:
            status = ft_ew_binary(op, cdt, nd, shape, a.data, a.strd,
                                  b.data, b.strd, o.data, o.strd)
    else:
        status = ft_ew_binary(op, cdt, nd, shape, a.data, a.strd,
                              b.data, b.strd, o.data, o.strd)
    check_status(status, name)
    return _finish(o, out)


cdef object _unary(int op, str name, object x, object out):
    cdef Tensor a, o
    cdef int odt, cdt, status
    a = as_tensor(x)
    if dt_is_lowp(a.dt):
        return lowp_unary(op, name, a, out)
    odt = _UN_OUT[op][a.dt]
    if odt < 0:
        raise TypeError(
            f"{name}: not supported for the input dtype {a.dtype}")
    cdt = a.dt if odt == kBool else odt
    a = cast_to(a, cdt)
    o = _result_out(out, a.nd, a.shp, odt, name)
    if out is not None:
        a = _no_overlap(a, o)
    if numel(o) * a.itemsize >= NOGIL_BYTES:
        with nogil:
            status = ft_ew_unary(op, cdt, a.nd, a.shp, a.data, a.strd,
                                 o.data, o.strd)
    else:
        status = ft_ew_unary(op, cdt, a.nd, a.shp, a.data, a.strd,
                             o.data, o.strd)
    check_status(status, name)
    return _finish(o, out)


# ---------------------------------------------------------------- arithmetic

def add(x1, x2, out=None):
    """Element-wise ``x1 + x2`` with broadcasting (NumPy's ``add``).

    Parameters
    ----------
    x1, x2 : Tensor, array_like or scalar
        Operands; Python scalars are weak (they do not widen the dtype).
    out : Tensor, optional
        Where to write the result; its shape must be the broadcast shape
        and the result must be castable to its dtype ('same_kind').

    Returns
    -------
    Tensor

    Raises
    ------
    ValueError
        When the shapes do not broadcast, or ``out`` has the wrong shape.
    TypeError
        When ``out``'s dtype cannot hold the result.

    Examples
    --------
    >>> ft.add(ft.ones((2, 3)), ft.arange(3.0)).tolist()
    [[1.0, 2.0, 3.0], [1.0, 2.0, 3.0]]
    """
    return _binary(B_ADD, "add", x1, x2, out)


def subtract(x1, x2, out=None):
    """Element-wise ``x1 - x2``; see :func:`add` for the common rules."""
    return _binary(B_SUB, "subtract", x1, x2, out)


def multiply(x1, x2, out=None):
    """Element-wise ``x1 * x2``; see :func:`add` for the common rules."""
    return _binary(B_MUL, "multiply", x1, x2, out)


def divide(x1, x2, out=None):
    """Element-wise true division ``x1 / x2``; integers give float64, as
    in NumPy.  See :func:`add` for the common rules."""
    return _binary(B_DIV, "divide", x1, x2, out)


true_divide = divide


def floor_divide(x1, x2, out=None):
    """Element-wise ``x1 // x2`` rounded toward minus infinity (Python's
    rule).  Integer division by zero gives 0, as in NumPy."""
    return _binary(B_FLOORDIV, "floor_divide", x1, x2, out)


def remainder(x1, x2, out=None):
    """Element-wise ``x1 % x2`` with the sign of ``x2`` (Python's rule).
    Integer remainder by zero gives 0, as in NumPy."""
    return _binary(B_MOD, "remainder", x1, x2, out)


mod = remainder


def power(x1, x2, out=None):
    """Element-wise ``x1 ** x2``.

    Raises
    ------
    ValueError
        For integer dtypes with a negative exponent, as NumPy does.
    """
    return _binary(B_POW, "power", x1, x2, out)


pow = power


def maximum(x1, x2, out=None):
    """Element-wise maximum; NaN in either operand gives NaN."""
    return _binary(B_MAX, "maximum", x1, x2, out)


def minimum(x1, x2, out=None):
    """Element-wise minimum; NaN in either operand gives NaN."""
    return _binary(B_MIN, "minimum", x1, x2, out)


# ---------------------------------------------------------------- comparisons

def equal(x1, x2, out=None):
    """Element-wise ``x1 == x2`` as a bool tensor."""
    return _binary(B_EQ, "equal", x1, x2, out)


def not_equal(x1, x2, out=None):
    """Element-wise ``x1 != x2`` as a bool tensor."""
    return _binary(B_NE, "not_equal", x1, x2, out)


def less(x1, x2, out=None):
    """Element-wise ``x1 < x2`` as a bool tensor."""
    return _binary(B_LT, "less", x1, x2, out)


def less_equal(x1, x2, out=None):
    """Element-wise ``x1 <= x2`` as a bool tensor."""
    return _binary(B_LE, "less_equal", x1, x2, out)


def greater(x1, x2, out=None):
    """Element-wise ``x1 > x2`` as a bool tensor."""
    return _binary(B_GT, "greater", x1, x2, out)


def greater_equal(x1, x2, out=None):
    """Element-wise ``x1 >= x2`` as a bool tensor."""
    return _binary(B_GE, "greater_equal", x1, x2, out)


def logical_and(x1, x2, out=None):
    """Element-wise truth of ``x1 and x2`` as a bool tensor."""
    return _binary(B_LAND, "logical_and", x1, x2, out)


def logical_or(x1, x2, out=None):
    """Element-wise truth of ``x1 or x2`` as a bool tensor."""
    return _binary(B_LOR, "logical_or", x1, x2, out)


def logical_xor(x1, x2, out=None):
    """Element-wise truth of ``bool(x1) != bool(x2)`` as a bool tensor."""
    return _binary(B_LXOR, "logical_xor", x1, x2, out)


def bitwise_and(x1, x2, out=None):
    """Element-wise ``x1 & x2`` for integer and bool tensors."""
    return _binary(B_BAND, "bitwise_and", x1, x2, out)


def bitwise_or(x1, x2, out=None):
    """Element-wise ``x1 | x2`` for integer and bool tensors."""
    return _binary(B_BOR, "bitwise_or", x1, x2, out)


def bitwise_xor(x1, x2, out=None):
    """Element-wise ``x1 ^ x2`` for integer and bool tensors."""
    return _binary(B_BXOR, "bitwise_xor", x1, x2, out)


# ---------------------------------------------------------------- unary

def negative(x, out=None):
    """Element-wise ``-x`` (integers wrap, as in NumPy)."""
    return _unary(U_NEG, "negative", x, out)


def positive(x, out=None):
    """Element-wise ``+x`` (a copy)."""
    return _unary(U_POS, "positive", x, out)


def absolute(x, out=None):
    """Element-wise absolute value."""
    return _unary(U_ABS, "absolute", x, out)


abs = absolute


def exp(x, out=None):
    """Element-wise exponential; integer inputs give floats as in NumPy.

    Accuracy: float32 within 1 ULP of the correctly rounded result
    (see src/core/vmath.h for the measured figures)."""
    return _unary(U_EXP, "exp", x, out)


def log(x, out=None):
    """Element-wise natural logarithm; log(0) = -inf, log(x < 0) = NaN."""
    return _unary(U_LOG, "log", x, out)


def sqrt(x, out=None):
    """Element-wise square root (IEEE-rounded)."""
    return _unary(U_SQRT, "sqrt", x, out)


def tanh(x, out=None):
    """Element-wise hyperbolic tangent."""
    return _unary(U_TANH, "tanh", x, out)


def square(x, out=None):
    """Element-wise ``x * x``."""
    return _unary(U_SQUARE, "square", x, out)


def logical_not(x, out=None):
    """Element-wise ``not x`` as a bool tensor."""
    return _unary(U_NOT, "logical_not", x, out)


def isnan(x, out=None):
    """Element-wise test for NaN, as a bool tensor."""
    return _unary(U_ISNAN, "isnan", x, out)


def sigmoid(x, out=None):
    """Element-wise logistic function ``1 / (1 + exp(-x))``, accurate in
    both tails (``exp(x) / (1 + exp(x))`` for negative x)."""
    return _unary(U_SIGMOID, "sigmoid", x, out)


def relu(x, out=None):
    """Element-wise ``max(x, 0)``; NaN stays NaN (as in PyTorch)."""
    cdef Tensor t = as_tensor(x)
    if not dt_is_float(t.dt):
        if t.dt == kBool:
            return _unary(U_POS, "relu", t, out)
        return _binary(B_MAX, "relu", t, 0, out)
    return _unary(U_RELU, "relu", t, out)


def silu(x, out=None):
    """Element-wise SiLU (swish), ``x * sigmoid(x)``."""
    return _unary(U_SILU, "silu", x, out)


def erf(x, out=None):
    """Element-wise error function."""
    return _unary(U_ERF, "erf", x, out)


def gelu(x, approximate="none", out=None):
    """Element-wise GELU with PyTorch's meaning.

    Parameters
    ----------
    x : Tensor or array_like
    approximate : {"none", "tanh"}
        "none": ``x * Phi(x)`` with the exact normal CDF (via erfc);
        "tanh": ``0.5 * x * (1 + tanh(sqrt(2/pi) * (x + 0.044715 x**3)))``.

    Raises
    ------
    ValueError
        For any other ``approximate``.
    """
    if approximate == "none":
        return _unary(U_GELU, "gelu", x, out)
    if approximate == "tanh":
        return _unary(U_GELU_TANH, "gelu", x, out)
    raise ValueError(
        f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")


# ---------------------------------------------------------------- where, clip

def where(condition, x=None, y=None, out=None):
    """Elements of ``x`` where ``condition`` holds, of ``y`` elsewhere.

    Parameters
    ----------
    condition : Tensor or array_like
        Converted to bool (non-zero is True).
    x, y : Tensor, array_like or scalar
        Broadcast together with ``condition``; their result dtype follows
        NumPy's promotion.  With neither given, ``where(condition)`` is
        ``numpy.nonzero(condition)`` (a tuple of int64 index tensors).

    Returns
    -------
    Tensor

    Raises
    ------
    ValueError
        When only one of x and y is given, or the shapes do not broadcast.
    """
    cdef Tensor c, a, b, o
    cdef int dt, nd, status
    cdef int64_t shape[MAXDIM]
    if x is None and y is None:
        idx = np.nonzero(to_numpy(as_tensor(condition)))
        return tuple(asarray(i.astype(np.int64)) for i in idx)
    if x is None or y is None:
        raise ValueError("where: either both or neither of x and y should be given")
    c = cast_to(as_tensor(condition), kBool)
    dt = result_dt(x, y)
    a = operand(x, dt, "where")
    b = operand(y, dt, "where")
    nd = broadcast_shape(a.nd, a.shp, b.nd, b.shp, shape, "where")
    nd = broadcast_shape(c.nd, c.shp, nd, shape, shape, "where")
    o = _result_out(out, nd, shape, dt, "where")
    c = expand_to(c, nd, shape, "where")
    a = expand_to(a, nd, shape, "where")
    b = expand_to(b, nd, shape, "where")
    if out is not None:
        c = _no_overlap(c, o)
        a = _no_overlap(a, o)
        b = _no_overlap(b, o)
    if numel(o) * a.itemsize >= NOGIL_BYTES:
        with nogil:
            status = ft_ew_where(dt, nd, shape, c.data, c.strd, a.data, a.strd,
                                 b.data, b.strd, o.data, o.strd)
    else:
        status = ft_ew_where(dt, nd, shape, c.data, c.strd, a.data, a.strd,
                             b.data, b.strd, o.data, o.strd)
    check_status(status, "where")
    return _finish(o, out)


def clip(a, a_min=None, a_max=None, out=None):
    """Limit the values of ``a`` to ``[a_min, a_max]`` (NumPy's ``clip``).

    Computed as ``minimum(maximum(a, a_min), a_max)``, so NaN propagates
    and the dtype follows NumPy's promotion with the bounds.

    Raises
    ------
    ValueError
        When both bounds are None.
    """
    if a_min is None and a_max is None:
        raise ValueError("clip: at least one of a_min and a_max must be given")
    if a_min is None:
        return minimum(a, a_max, out=out)
    if a_max is None:
        return maximum(a, a_min, out=out)
    return minimum(maximum(a, a_min), a_max, out=out)
