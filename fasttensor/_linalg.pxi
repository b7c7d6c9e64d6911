# Linear algebra: matmul (and @), dot, linear, and the FMA-peak probe the
# benchmarks measure GEMM against.  The kernels are in src/ops/gemm.cpp;
# this layer checks shapes and dtypes, lays out strides (in elements) and
# releases the GIL.

cdef extern from "ops/gemm.h" namespace "ft":
    int _ft_gemm_batched "ft::gemm_batched"(
        DType dt, int nbatch, const int64_t* batch_shape,
        const int64_t* bsa, const int64_t* bsb, const int64_t* bsc,
        int64_t m, int64_t n, int64_t k,
        const void* a, int64_t rs_a, int64_t cs_a,
        const void* b, int64_t rs_b, int64_t cs_b,
        void* c, int64_t rs_c, int64_t cs_c, bint accumulate) nogil
    int _ft_dot "ft::dot"(DType dt, int64_t n, const void* x, int64_t incx,
                          const void* y, int64_t incy, void* out) nogil
    double _ft_fma_peak_gflops "ft::fma_peak_gflops"(double seconds) nogil
    const char* _ft_gemm_isa "ft::gemm_isa"()
    void _ft_gemm_blocks "ft::gemm_blocks"(DType dt, int64_t* out)
    void _ft_gemm_tune "ft::gemm_tune"(int64_t kc, int64_t mc, int64_t nc,
                                       int path)
    int _ft_gemm_lowp_batched "ft::gemm_lowp_batched"(
        DType round_to, int nbatch, const int64_t* batch_shape,
        const int64_t* bsa, const int64_t* bsb, const int64_t* bsc,
        int64_t m, int64_t n, int64_t k,
        const void* a, DType a_dt, int64_t rs_a, int64_t cs_a,
        const void* b, DType b_dt, int64_t rs_b, int64_t cs_b,
        float* c, int64_t rs_c, int64_t cs_c, bint accumulate) nogil
    size_t _ft_gemm_prepacked_b_bytes "ft::gemm_prepacked_b_bytes"(
        int64_t k, int64_t n) nogil
    int _ft_gemm_prepack_b "ft::gemm_prepack_b"(
        DType round_to, int64_t k, int64_t n, const void* b, DType b_dt,
        int64_t rs_b, int64_t cs_b, float* dst, int64_t* kc_out) nogil
    int _ft_gemm_prepacked "ft::gemm_prepacked"(
        DType round_to, int64_t m, int64_t n, int64_t k, const void* a,
        DType a_dt, int64_t rs_a, int64_t cs_a, const float* packed_b,
        int64_t kc_packed, float* c, int64_t rs_c, int64_t cs_c,
        bint accumulate) nogil
    int _FT_PREPACKED_NOT_TAKEN "ft::kPrepackedNotTaken"
    int _ft_dot_lowp "ft::dot_lowp"(
        DType round_to, int64_t n, const void* x, DType x_dt, int64_t incx,
        const void* y, DType y_dt, int64_t incy, float* out) nogil


# Products below this many multiply-adds run with the GIL held: releasing
# and re-taking it costs more than the work.
cdef enum:
    _GEMM_NOGIL_MACS = 32768


cdef inline bint _gemm_dtype_ok(int dt) noexcept:
    return dt == kFloat32 or dt == kFloat64 or dt == kBool or dt_is_int(dt)


cdef int _check_gemm_dtype(int dt, str op, Tensor a, Tensor b) except -1:
    if not _gemm_dtype_ok(dt):
        raise TypeError(
            f"{op}: not supported for dtypes {a.dtype} and {b.dtype}")
    return 0


cdef inline int64_t _estride(Tensor t, int d) noexcept:
    return t.strd[d] // t.itemsize


cdef bint _strides_in_elements(Tensor t) noexcept:
    cdef int i
    for i in range(t.nd):
        if t.strd[i] % t.itemsize != 0:
            return False
    return True


cdef Tensor _gemm_operand(Tensor t, int dt):
    """``t`` cast to ``dt``, copied only when its strides are not whole
    elements (a byte-strided view NumPy can make and the kernels cannot
    address)."""
    t = cast_to(t, dt)
    if not _strides_in_elements(t):
        t = copy_tensor(t)
    return t


cdef Tensor _prod_operand(Tensor t, int dt, int rt):
    """Operand ``t`` of a product of dtype ``dt``; for a product rounded to
    the 16-bit dtype ``rt`` (``rt >= 0``), float32 and ``rt`` operands stay
    as they are (the GEMM packing step rounds and widens them) and others
    are cast to ``rt``."""
    if rt < 0:
        return _gemm_operand(t, dt)
    if t.dt != kFloat32 and t.dt != rt:
        t = cast_to(t, rt)
    if not _strides_in_elements(t):
        t = copy_tensor(t)
    return t


cdef Tensor _work_buffer(Tensor final, object out, Tensor a, Tensor b):
    """The tensor the kernel writes: ``final`` itself, or a new one when
    ``out`` was given and shares memory with an operand (the result is
    then copied into ``final``)."""
    if out is not None and (shares_buffer(final, a) or shares_buffer(final, b)
                            or not _strides_in_elements(final)):
        return new_tensor(final.nd, final.shp, final.dt)
    return final


cdef _run_gemm(int dt, int nbatch, const int64_t* bshape, const int64_t* bsa,
               const int64_t* bsb, const int64_t* bsc, int64_t m, int64_t n,
               int64_t k, const char* pa, int64_t rs_a, int64_t cs_a,
               const char* pb, int64_t rs_b, int64_t cs_b, char* pc,
               int64_t rs_c, int64_t cs_c, bint accumulate, str op,
               int rt=-1, int adt=0, int bdt=0):
    """C = (C +) A @ B over the batch; with ``rt >= 0`` the reduced-
    precision product: A and B of dtypes ``adt`` / ``bdt`` (float32 or
    ``rt``) rounded to ``rt`` while packing, C float32."""
    cdef int status
    cdef int64_t count = 1
    cdef int i
    for i in range(nbatch):
        count *= bshape[i]
    if rt >= 0:
        with nogil:
            status = _ft_gemm_lowp_batched(
                <DType>rt, nbatch, bshape, bsa, bsb, bsc, m, n, k,
                pa, <DType>adt, rs_a, cs_a, pb, <DType>bdt, rs_b, cs_b,
                <float*>pc, rs_c, cs_c, accumulate)
    elif count * m * n * (k if k > 0 else 1) >= _GEMM_NOGIL_MACS:
        with nogil:
            status = _ft_gemm_batched(
                <DType>dt, nbatch, bshape, bsa, bsb, bsc, m, n, k,
                pa, rs_a, cs_a, pb, rs_b, cs_b, pc, rs_c, cs_c, accumulate)
    else:
        status = _ft_gemm_batched(
            <DType>dt, nbatch, bshape, bsa, bsb, bsc, m, n, k,
            pa, rs_a, cs_a, pb, rs_b, cs_b, pc, rs_c, cs_c, accumulate)
    check_status(status, op)


def matmul(x1, x2, out=None):
    """Matrix product of two tensors, with NumPy's ``matmul`` semantics.

    Parameters
    ----------
    x1, x2 : array_like
        Operands with at least one dimension.  The last two dimensions are
        the matrices; leading dimensions are batch dimensions and broadcast
        against each other.  A 1-D first operand is treated as a row vector
        and a 1-D second operand as a column vector; the added dimension is
        removed from the result.
    out : Tensor, optional
        Where to write the result; it must have the result's shape and
        dtype.  It may overlap the operands.

    Returns
    -------
    Tensor
        The product, with the promoted dtype of ``x1`` and ``x2``.

    Raises
    ------
    ValueError
        If an operand is 0-d, the inner dimensions differ, the batch
        dimensions do not broadcast, or ``out`` has the wrong shape.
    TypeError
        If the dtypes are not numeric or ``out`` has the wrong dtype.

    See Also
    --------
    numpy.matmul, dot, linear

    Notes
    -----
    float32 and float64 products run on blocked, packed GEMM kernels for
    the CPU's widest vector instructions; integer and boolean products use
    a compiled loop with NumPy's wrapping arithmetic.  Results are
    identical whatever the number of threads.

    Examples
    --------
    >>> import fasttensor as ft
    >>> a = ft.ones((2, 3))
    >>> b = ft.ones((3, 4))
    >>> (a @ b).shape
    (2, 4)
    >>> ft.matmul(ft.ones((5, 2, 3)), b).shape
    (5, 2, 4)
    """
    return _matmul(x1, x2, out, "matmul")


cdef Tensor _matmul(object x1, object x2, object out, str op, int rt=-1):
    """matmul; with ``rt >= 0`` (float16 or bfloat16) the product of the
    operands rounded to ``rt``, as a float32 tensor (``out`` must be
    None)."""
    cdef Tensor a = as_tensor(x1)
    cdef Tensor b = as_tensor(x2)
    if a.nd == 0 or b.nd == 0:
        raise ValueError(
            f"{op}: operand {0 if a.nd == 0 else 1} is 0-d (x1.shape="
            f"{a.shape}, x2.shape={b.shape}); matmul needs at least 1 "
            f"dimension, use multiply for scalars")
    cdef int dt = kFloat32 if rt >= 0 else result_dt(a, b)
    if rt < 0:
        _check_gemm_dtype(dt, op, a, b)

    # Core dims, with 1-D promotion.
    cdef bint a1 = a.nd == 1
    cdef bint b1 = b.nd == 1
    cdef int64_t m = 1 if a1 else a.shp[a.nd - 2]
    cdef int64_t ka = a.shp[a.nd - 1]
    cdef int64_t kb = b.shp[0] if b1 else b.shp[b.nd - 2]
    cdef int64_t n = 1 if b1 else b.shp[b.nd - 1]
    if ka != kb:
        raise ValueError(
            f"{op}: inner dimensions differ (x1.shape={a.shape}, "
            f"x2.shape={b.shape}: {ka} != {kb})")

    # Batch dims broadcast like NumPy's.
    cdef int nba = 0 if a1 else a.nd - 2
    cdef int nbb = 0 if b1 else b.nd - 2
    cdef int nb = nba if nba > nbb else nbb
    cdef int64_t bshape[MAXDIM]
    cdef int64_t oshape[MAXDIM]
    cdef int i, ia, ib
    cdef int64_t da, db
    for i in range(nb):
        ia = i - (nb - nba)
        ib = i - (nb - nbb)
        da = a.shp[ia] if ia >= 0 else 1
        db = b.shp[ib] if ib >= 0 else 1
        if da != db and da != 1 and db != 1:
            raise ValueError(
                f"{op}: batch dimensions do not broadcast (x1.shape="
                f"{a.shape}, x2.shape={b.shape}: {da} != {db} in batch "
                f"dimension {i})")
        bshape[i] = da if db == 1 else db
    cdef int ond = nb
    for i in range(nb):
        oshape[i] = bshape[i]
    if not a1:
        oshape[ond] = m
        ond += 1
    if not b1:
        oshape[ond] = n
        ond += 1

    a = _prod_operand(a, dt, rt)
    b = _prod_operand(b, dt, rt)
    cdef Tensor final = prepare_out(out, ond, oshape, dt, op)
    cdef Tensor c = _work_buffer(final, out, a, b)

    # Element strides of the matrices and of each batch dim.
    cdef int64_t rs_a = 0 if a1 else _estride(a, a.nd - 2)
    cdef int64_t cs_a = _estride(a, a.nd - 1)
    cdef int64_t rs_b = _estride(b, 0) if b1 else _estride(b, b.nd - 2)
    cdef int64_t cs_b = 0 if b1 else _estride(b, b.nd - 1)
    cdef int64_t rs_c = 0, cs_c = 0
    if not a1:
        rs_c = _estride(c, nb)
        if not b1:
            cs_c = _estride(c, nb + 1)
    elif not b1:
        cs_c = _estride(c, nb)
    cdef int64_t bsa[MAXDIM]
    cdef int64_t bsb[MAXDIM]
    cdef int64_t bsc[MAXDIM]
    for i in range(nb):
        ia = i - (nb - nba)
        ib = i - (nb - nbb)
        bsa[i] = _estride(a, ia) if ia >= 0 and a.shp[ia] != 1 else 0
        bsb[i] = _estride(b, ib) if ib >= 0 and b.shp[ib] != 1 else 0
        bsc[i] = _estride(c, i)
    _run_gemm(dt, nb, bshape, bsa, bsb, bsc, m, n, ka, a.data, rs_a, cs_a,
              b.data, rs_b, cs_b, c.data, rs_c, cs_c, False, op, rt, a.dt,
              b.dt)
    if c is not final:
        copy_into(final, c)
    return final


cdef Tensor _scalar_product(Tensor t, Tensor s, int dt, object out, str op):
    """t * s for a 0-d ``s``: one multiply per element, as an m x 1 by
    1 x 1 product (exact product rounding, same as multiply)."""
    t = ascontig(_gemm_operand(t, dt))
    s = _gemm_operand(s, dt)
    cdef Tensor final = prepare_out(out, t.nd, t.shp, dt, op)
    cdef Tensor c = _work_buffer(final, out, t, s)
    cdef Tensor cc = c if is_c_contig(c) else new_tensor(t.nd, t.shp, dt)
    _run_gemm(dt, 0, NULL, NULL, NULL, NULL, numel(t), 1, 1, t.data, 1, 0,
              s.data, 0, 0, cc.data, 1, 0, False, op)
    if cc is not c:
        copy_into(c, cc)
    if c is not final:
        copy_into(final, c)
    return final


def dot(a, b, out=None):
    """Dot product of two tensors, with NumPy's ``dot`` semantics.

    Parameters
    ----------
    a, b : array_like
        Operands.  1-D and 1-D: inner product.  2-D and 2-D: matrix product
        (as ``matmul``).  N-D and 1-D: sum product over the last axis of
        ``a`` and ``b``.  N-D and M-D (M >= 2): sum product over the last
        axis of ``a`` and the second-to-last of ``b``.  A 0-d operand
        multiplies the other.
    out : Tensor, optional
        Where to write the result; it must have the result's shape and
        dtype.

    Returns
    -------
    Tensor
        The result, with the promoted dtype of ``a`` and ``b`` (0-d for two
        vectors).

    Raises
    ------
    ValueError
        If the summed dimensions differ, or ``out`` has the wrong shape.
    TypeError
        If the dtypes are not numeric or ``out`` has the wrong dtype.

    See Also
    --------
    numpy.dot, matmul

    Notes
    -----
    float32 inner products accumulate in float64 with independent vector
    accumulators, so their error does not grow with the length.

    Examples
    --------
    >>> import fasttensor as ft
    >>> float(ft.dot(ft.ones(4), ft.ones(4)))
    4.0
    >>> ft.dot(ft.ones((2, 3)), ft.ones((4, 3, 5))).shape
    (2, 4, 5)
    """
    return _dot(a, b, out, -1)


cdef object _dot(object a, object b, object out, int rt):
    """dot; with ``rt >= 0`` (float16 or bfloat16) the product of the
    operands rounded to ``rt``, as a float32 tensor (neither operand 0-d,
    ``out`` None)."""
    cdef Tensor x = as_tensor(a)
    cdef Tensor y = as_tensor(b)
    cdef int dt = kFloat32 if rt >= 0 else result_dt(a, b)
    if rt < 0:
        _check_gemm_dtype(dt, "dot", x, y)
    if x.nd == 0:
        return _scalar_product(y, x, dt, out, "dot")
    if y.nd == 0:
        return _scalar_product(x, y, dt, out, "dot")
    cdef int64_t kx = x.shp[x.nd - 1]
    cdef int64_t ky = y.shp[0] if y.nd == 1 else y.shp[y.nd - 2]
    if kx != ky:
        raise ValueError(
            f"dot: shapes {x.shape} and {y.shape} not aligned: {kx} (dim "
            f"{x.nd - 1}) != {ky} (dim {0 if y.nd == 1 else y.nd - 2})")
    cdef int status
    cdef int64_t incx, incy
    cdef Tensor final
    cdef Tensor c
    if x.nd == 1 and y.nd == 1:
        x = _prod_operand(x, dt, rt)
        y = _prod_operand(y, dt, rt)
        final = prepare_out(out, 0, NULL, dt, "dot")
        c = _work_buffer(final, out, x, y)
        incx = _estride(x, 0)
        incy = _estride(y, 0)
        if rt >= 0:
            with nogil:
                status = _ft_dot_lowp(<DType>rt, kx, x.data, <DType>x.dt,
                                      incx, y.data, <DType>y.dt, incy,
                                      <float*>c.data)
        elif kx >= 4096:
            with nogil:
                status = _ft_dot(<DType>dt, kx, x.data, incx, y.data, incy,
                                 c.data)
        else:
            status = _ft_dot(<DType>dt, kx, x.data, incx, y.data, incy,
                             c.data)
        check_status(status, "dot")
        if c is not final:
            copy_into(final, c)
        return final
    if x.nd <= 2 and y.nd <= 2 or y.nd == 1:
        return _matmul(x, y, out, "dot", rt)

    # N-D with M-D: out[i..., j..., n] = sum_k x[i..., k] * y[j..., k, n],
    # one product per batch index j of y, all sharing x as an M x K matrix.
    x = ascontig(_prod_operand(x, dt, rt))
    y = ascontig(_prod_operand(y, dt, rt))
    cdef int i
    cdef int64_t mrows = 1
    for i in range(x.nd - 1):
        mrows *= x.shp[i]
    cdef int64_t nb = 1
    for i in range(y.nd - 2):
        nb *= y.shp[i]
    cdef int64_t ncols = y.shp[y.nd - 1]
    cdef int64_t oshape[MAXDIM]
    cdef int ond = 0
    for i in range(x.nd - 1):
        oshape[ond] = x.shp[i]
        ond += 1
    for i in range(y.nd - 2):
        oshape[ond] = y.shp[i]
        ond += 1
    oshape[ond] = ncols
    ond += 1
    final = prepare_out(out, ond, oshape, dt, "dot")
    c = _work_buffer(final, out, x, y)
    cdef Tensor cc = c if is_c_contig(c) else new_tensor(ond, oshape, dt)
    cdef int64_t bshape[1]
    cdef int64_t bsa[1]
    cdef int64_t bsb[1]
    cdef int64_t bsc[1]
    bshape[0] = nb
    bsa[0] = 0
    bsb[0] = kx * ncols
    bsc[0] = ncols
    _run_gemm(dt, 1, bshape, bsa, bsb, bsc, mrows, ncols, kx, x.data, kx, 1,
              y.data, ncols, 1, cc.data, nb * ncols, 1, False, "dot", rt,
              x.dt, y.dt)
    if cc is not c:
        copy_into(c, cc)
    if c is not final:
        copy_into(final, c)
    return final


def linear(x, weight, bias=None):
    """Affine map ``x @ weight.T + bias`` with PyTorch's ``linear`` meaning.

    Parameters
    ----------
    x : array_like, shape (..., in_features)
        Input; leading dimensions are batch dimensions.
    weight : array_like, shape (out_features, in_features)
        Weight matrix, read in place through its strides (the transpose is
        never materialised).
    bias : array_like, shape (out_features,), optional
        Added to every output row.

    Returns
    -------
    Tensor, shape (..., out_features)
        The promoted dtype of ``x``, ``weight`` and ``bias``.

    Raises
    ------
    ValueError
        If ``weight`` is not 2-D, ``x`` is 0-d, the feature sizes differ or
        ``bias`` has the wrong shape.
    TypeError
        If the dtypes are not numeric.

    See Also
    --------
    torch.nn.functional.linear, matmul

    Examples
    --------
    >>> import fasttensor as ft
    >>> ft.linear(ft.ones((8, 3)), ft.ones((5, 3)), ft.zeros(5)).shape
    (8, 5)
    """
    return _linear(x, weight, bias, -1)


cdef Tensor _linear(object x, object weight, object bias, int rt,
                    object packed=None):
    """linear; with ``rt >= 0`` (float16 or bfloat16) the product of the
    operands rounded to ``rt``, as a float32 tensor.  ``packed``: a
    PackedLinearWeight of ``weight`` whose panels the product reads when
    its rounding matches and the packed path would be taken (the result
    is then bitwise the unpacked product's)."""
    cdef Tensor xt = as_tensor(x)
    cdef Tensor w = as_tensor(weight)
    cdef Tensor bt = None if bias is None else as_tensor(bias)
    if w.nd != 2:
        raise ValueError(
            f"linear: weight must be 2-D (out_features, in_features), got "
            f"weight.shape={w.shape} (x.shape={xt.shape})")
    if xt.nd == 0:
        raise ValueError(
            f"linear: x is 0-d (x.shape={xt.shape}, weight.shape={w.shape})")
    cdef int64_t kin = xt.shp[xt.nd - 1]
    cdef int64_t nout = w.shp[0]
    if kin != w.shp[1]:
        raise ValueError(
            f"linear: x.shape[-1] != weight.shape[1] (x.shape={xt.shape}, "
            f"weight.shape={w.shape}: {kin} != {w.shp[1]})")
    if bt is not None and not (bt.nd == 1 and bt.shp[0] == nout or
                               bt.nd == 0):
        raise ValueError(
            f"linear: bias must have shape ({nout},), got bias.shape="
            f"{bt.shape} (weight.shape={w.shape})")
    cdef int dt = kFloat32
    if rt < 0:
        dt = result_dt(xt, w)
        if bt is not None:
            dt = promote(dt, bt.dt)
        _check_gemm_dtype(dt, "linear", xt, w)

    # x as an M x K matrix: its leading dims (those longer than 1) merged
    # when their strides allow, else a contiguous copy.
    xt = _prod_operand(xt, dt, rt)
    w = _prod_operand(w, dt, rt)
    cdef int i
    cdef int last = -1
    cdef bint mergeable = True
    for i in range(xt.nd - 1):
        if xt.shp[i] == 1:
            continue
        if last >= 0 and xt.strd[last] != xt.strd[i] * xt.shp[i]:
            mergeable = False
        last = i
    if not mergeable:
        xt = ascontig(xt)
        last = xt.nd - 2
    cdef int64_t mrows = 1
    for i in range(xt.nd - 1):
        mrows *= xt.shp[i]
    cdef int64_t rs_x = _estride(xt, last) if last >= 0 else 0
    cdef int64_t oshape[MAXDIM]
    for i in range(xt.nd - 1):
        oshape[i] = xt.shp[i]
    oshape[xt.nd - 1] = nout
    cdef Tensor c = new_tensor(xt.nd, oshape, dt)
    cdef Tensor one
    cdef bint acc = False
    if bt is not None:
        bt = _prod_operand(bt, dt, rt)
        # Every row starts as the bias: C = 1 (M x 1, stride 0) @ bias.
        one = cast_to(as_tensor(np.ones((), dtype=dtype_of(dt))), dt)
        _run_gemm(dt, 0, NULL, NULL, NULL, NULL, mrows, nout, 1, one.data,
                  0, 0, bt.data, 0, _estride(bt, 0) if bt.nd == 1 else 0,
                  c.data, nout, 1, False, "linear", rt, one.dt, bt.dt)
        acc = True
    # A bfloat16 product with enough rows runs on the bfloat16 matrix
    # engine when one runs: from the weight's engine panels if packed.
    if (packed is not None and rt == kBFloat16 and
            mrows >= kBf16TileMinRows and
            _bf16_engine_linear(packed, xt, mrows, rs_x, c, acc)):
        return c
    cdef int pst
    cdef int64_t cs_x
    cdef int prt = kFloat32 if rt < 0 else rt
    cdef Tensor pbuf
    cdef int64_t pkc
    if (packed is not None and packed._round_to == prt and
            (dt == kFloat32 or rt >= 0) and mrows > 0):
        pbuf = packed._panels
        pkc = packed._kc
        cs_x = _estride(xt, xt.nd - 1)
        with nogil:
            pst = _ft_gemm_prepacked(
                <DType>prt, mrows, nout, kin, xt.data, <DType>xt.dt, rs_x,
                cs_x, <const float*>pbuf.data, pkc, <float*>c.data, nout, 1,
                acc)
        if pst != _FT_PREPACKED_NOT_TAKEN:
            check_status(pst, "linear")
            return c
    # B = weight.T read through the weight's strides.
    _run_gemm(dt, 0, NULL, NULL, NULL, NULL, mrows, nout, kin, xt.data, rs_x,
              _estride(xt, xt.nd - 1), w.data, _estride(w, 1),
              _estride(w, 0), c.data, nout, 1, acc, "linear", rt, xt.dt,
              w.dt)
    return c


def _fma_peak_gflops(double seconds=0.2):
    """Single-thread FMA peak of the active ISA in GFLOP/s (float32),
    measured over about ``seconds``: the ceiling GEMM is compared with."""
    cdef double g
    with nogil:
        g = _ft_fma_peak_gflops(seconds)
    return g


def _gemm_info(dtype=np.float32):
    """The active GEMM ISA and its blocks for ``dtype``:
    ``{"isa", "mr", "nr", "kc", "mc", "nc"}``."""
    cdef int64_t v[5]
    _ft_gemm_blocks(<DType>dt_of(dtype), v)
    return {"isa": _ft_gemm_isa().decode(), "mr": v[0], "nr": v[1],
            "kc": v[2], "mc": v[3], "nc": v[4]}


def _gemm_tune(kc=0, mc=0, nc=0, path=0):
    """Override GEMM cache blocks (0: from the cache sizes) and the path
    (0: automatic, 1: no packing, 2: packed).  For tests and tuning."""
    _ft_gemm_tune(kc, mc, nc, path)
