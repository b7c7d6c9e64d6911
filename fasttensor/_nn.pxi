# softmax, log_softmax, layer_norm and scaled_dot_product_attention: the
# checks and layouts in front of the kernels of src/ops/nn.h.

import math as _math


cdef extern from "ops/nn.h" namespace "ft":
    int ft_softmax "ft::softmax"(
        DType dt, bint log, int ndim, const int64_t* shape, int axis,
        const void* inp, const int64_t* si, void* out,
        const int64_t* so) nogil
    int ft_layer_norm "ft::layer_norm"(
        DType dt, int64_t rows, int64_t n, const void* x, const void* w,
        const void* b, double eps, void* y) nogil

    cdef cppclass AttentionArgs:
        DType dt
        int nbatch
        const int64_t* bshape
        const int64_t* bs_q
        const int64_t* bs_k
        const int64_t* bs_v
        const int64_t* bs_m
        const int64_t* bs_o
        int64_t L, S, D, Dv
        const void* q
        int64_t rs_q, cs_q
        const void* k
        int64_t rs_k, cs_k
        const void* v
        int64_t rs_v, cs_v
        int mask_kind
        const void* mask
        int64_t rs_m, cs_m
        bint causal
        double scale
        void* out
        int64_t rs_o, cs_o
        bint bf16_engine
        bint qkv_f32

    int ft_sdpa "ft::scaled_dot_product_attention"(
        const AttentionArgs& a) nogil
    void ft_attention_bf16_tune "ft::attention_bf16_tune"(
        int64_t qb, int64_t kb, int64_t whole_bytes) nogil


cdef Tensor _nn_float_operand(object x, str op, str name):
    """``x`` as a float32/float64 tensor for the nn kernels.

    Integer and bool inputs become float64 (as NumPy's exp does); float16
    and bfloat16 are computed in float32 (the caller casts back).
    """
    cdef Tensor t = as_tensor(x)
    if t.dt == kFloat32 or t.dt == kFloat64:
        return t
    if t.dt == kFloat16 or t.dt == kBFloat16:
        return cast_to(t, kFloat32)
    if dt_is_int(t.dt) or t.dt == kBool:
        return cast_to(t, kFloat64)
    raise TypeError(f"{op}: {name} has unsupported dtype {t.dtype}")


cdef bint _nn_strides_whole(Tensor t) noexcept:
    """True when every stride is a whole number of elements and the data
    pointer is aligned to the element size."""
    cdef int i
    if (<size_t>t.data) % t.itemsize:
        return False
    for i in range(t.nd):
        if t.strd[i] % t.itemsize:
            return False
    return True


cdef bint _nn_same_view(Tensor a, Tensor b) noexcept:
    cdef int i
    if a.data != b.data or a.nd != b.nd:
        return False
    for i in range(a.nd):
        if a.shp[i] != b.shp[i] or a.strd[i] != b.strd[i]:
            return False
    return True


cdef object _softmax_impl(object x, object axis, object dim, object out,
                          bint log, str op):
    if axis is not None and dim is not None:
        raise TypeError(f"{op}: give axis or dim, not both")
    if dim is not None:
        axis = dim
    if axis is None:
        axis = -1
    cdef Tensor t0 = as_tensor(x)
    cdef Tensor t = _nn_float_operand(t0, op, "x")
    cdef int res_dt = t0.dt if (t0.dt == kFloat16 or t0.dt == kBFloat16) else t.dt
    cdef int nd = t.nd
    cdef int ax
    cdef int64_t one = 1
    cdef int64_t st1
    if nd == 0:
        # A 0-d input is a softmax over one element (PyTorch's rule).
        norm_axis(axis, 1, op)
        ax = 0
    else:
        ax = norm_axis(axis, nd, op)
    cdef Tensor o = prepare_out(out, t0.nd, t0.shp, res_dt, op)
    cdef Tensor dst = o
    if (res_dt != t.dt or not _nn_strides_whole(o) or
            (shares_buffer(o, t) and not _nn_same_view(o, t))):
        dst = new_tensor(t.nd, t.shp, t.dt)
    if not _nn_strides_whole(t):
        t = copy_tensor(t)
    cdef int status
    cdef int64_t nbytes = numel(t) * t.itemsize
    if nd == 0:
        st1 = t.itemsize
        with nogil:
            status = ft_softmax(<DType>t.dt, log, 1, &one, 0, t.data, &st1,
                                dst.data, &st1)
    elif nbytes >= NOGIL_BYTES:
        with nogil:
            status = ft_softmax(<DType>t.dt, log, nd, t.shp, ax, t.data,
                                t.strd, dst.data, dst.strd)
    else:
        status = ft_softmax(<DType>t.dt, log, nd, t.shp, ax, t.data, t.strd,
                            dst.data, dst.strd)
    check_status(status, op)
    if dst is not o:
        copy_into(o, dst)
    return o


def softmax(x, axis=None, dim=None, out=None):
    """Softmax along one axis: ``exp(x - max) / sum(exp(x - max))``.

    Parameters
    ----------
    x : array_like
        Input.  float32 and float64 are computed as they are; integer and
        bool inputs give float64; float16 and bfloat16 are computed in
        float32 and returned in their own dtype.
    axis : int, optional
        The axis to normalise over (NumPy's name); default the last axis.
    dim : int, optional
        PyTorch's name for ``axis``; give one or the other.
    out : Tensor, optional
        Where to write the result (the result's shape and dtype).  It may
        be ``x`` itself.

    Returns
    -------
    Tensor
        Values in [0, 1] summing to 1 along ``axis``.  A slice that holds
        a NaN or +inf, or only -inf, gives NaN (as PyTorch); -inf entries
        otherwise give exactly 0.

    Raises
    ------
    numpy.exceptions.AxisError
        ``axis`` out of range.
    TypeError
        Both ``axis`` and ``dim``; an unsupported dtype; ``out`` of the
        wrong dtype.

    See Also
    --------
    log_softmax, fasttensor.nn.softmax

    Examples
    --------
    >>> import fasttensor as ft
    >>> ft.softmax(ft.asarray([[1.0, 2.0, 3.0]]), dim=-1).numpy().round(4)
    array([[0.09  , 0.2447, 0.6652]], dtype=float32)
    """
    return _softmax_impl(x, axis, dim, out, False, "softmax")


def log_softmax(x, axis=None, dim=None, out=None):
    """log(softmax(x)) along one axis, computed as ``x - max - log(sum(exp(x
    - max)))`` so that it stays finite where softmax underflows to 0.

    Parameters and special values are those of :func:`softmax`; -inf
    entries give -inf.

    Examples
    --------
    >>> import fasttensor as ft
    >>> ft.log_softmax(ft.asarray([0.0, 0.0])).numpy()
    array([-0.6931472, -0.6931472], dtype=float32)
    """
    return _softmax_impl(x, axis, dim, out, True, "log_softmax")


def layer_norm(x, normalized_shape, weight=None, bias=None, eps=1e-5):
    """Layer normalisation over the trailing ``normalized_shape`` dims.

    ``y = (x - mean) / sqrt(var + eps) * weight + bias`` with the mean and
    the biased variance taken over the last ``len(normalized_shape)`` dims
    (PyTorch's ``layer_norm``).

    Parameters
    ----------
    x : array_like
        Input of shape ``(*, *normalized_shape)``.
    normalized_shape : int or tuple of int
        The trailing shape to normalise over.
    weight, bias : array_like, optional
        Of shape ``normalized_shape``; default 1 and 0.
    eps : float
        Added to the variance.

    Returns
    -------
    Tensor
        Same shape as ``x``; float32 or float64 (see :func:`softmax` for
        the dtype rule).

    Raises
    ------
    ValueError
        ``x``'s trailing dims, ``weight`` or ``bias`` do not match
        ``normalized_shape``.

    Examples
    --------
    >>> import fasttensor as ft
    >>> ft.layer_norm(ft.asarray([[1.0, 3.0]]), 2).numpy().round(3)
    array([[-1.,  1.]], dtype=float32)
    """
    op = "layer_norm"
    cdef Tensor t0 = as_tensor(x)
    cdef Tensor t = _nn_float_operand(t0, op, "x")
    cdef int res_dt = t0.dt if (t0.dt == kFloat16 or t0.dt == kBFloat16) else t.dt
    if isinstance(normalized_shape, numbers.Integral):
        ns = (int(normalized_shape),)
    else:
        try:
            ns = tuple(int(operator.index(d)) for d in normalized_shape)
        except TypeError:
            raise TypeError(
                f"{op}: normalized_shape must be an int or a tuple of ints, "
                f"got {normalized_shape!r}") from None
    cdef int k = len(ns)
    if k == 0 or k > t.nd or t.shape[t.nd - k:] != ns:
        raise ValueError(
            f"{op}: normalized_shape={ns} does not match the trailing dims "
            f"of the input of shape {t.shape}")
    cdef int64_t n = 1
    for d in ns:
        n *= d
    cdef int64_t rows = numel(t) // n if n > 0 else 0
    cdef Tensor w = None
    cdef Tensor b = None
    if weight is not None:
        w = as_tensor(weight)
        if w.shape != ns:
            raise ValueError(
                f"{op}: weight has shape {w.shape}, expected normalized_shape "
                f"{ns}")
        w = ascontig(cast_to(w, t.dt))
    if bias is not None:
        b = as_tensor(bias)
        if b.shape != ns:
            raise ValueError(
                f"{op}: bias has shape {b.shape}, expected normalized_shape "
                f"{ns}")
        b = ascontig(cast_to(b, t.dt))
    t = ascontig(t)
    cdef Tensor y = new_tensor(t.nd, t.shp, t.dt)
    cdef const void* wp = NULL
    cdef const void* bp = NULL
    if w is not None:
        wp = w.data
    if b is not None:
        bp = b.data
    cdef double e = float(eps)
    cdef int status
    with nogil:
        status = ft_layer_norm(<DType>t.dt, rows, n, t.data, wp, bp, e, y.data)
    check_status(status, op)
    if res_dt != t.dt:
        return cast_to(y, res_dt)
    return y


cdef Tensor _attn_operand(Tensor t):
    if not _nn_strides_whole(t):
        return copy_tensor(t)
    return t


def scaled_dot_product_attention(query, key, value, attn_mask=None,
                                 dropout_p=0.0, is_causal=False, scale=None,
                                 enable_gqa=False):
    """Fused attention ``softmax(query @ key.mT * scale + bias) @ value``.

    PyTorch's ``torch.nn.functional.scaled_dot_product_attention``: query
    ``(*, L, D)``, key ``(*, S, D)``, value ``(*, S, Dv)`` with batch dims
    ``*`` (e.g. batch, heads) that broadcast; the result is ``(*, L, Dv)``.
    The L x S score matrix is never stored: tiles of query rows meet blocks
    of keys with a running max and sum (online softmax), so extra memory
    stays a few hundred KiB per thread.

    Parameters
    ----------
    query, key, value : array_like
        float32 or float64, all of one dtype, or float16 / bfloat16
        (computed in float32 and returned in their dtype).  bfloat16 with
        at least 16 query rows runs on the bfloat16 matrix engine where
        the CPU has one (``show_config()``): both products multiply
        bfloat16 values (the probabilities rounded to bfloat16) with
        float32 accumulation, the softmax is float32.
    attn_mask : array_like, optional
        Broadcastable to ``(*, L, S)``: bool (True = attend) or an additive
        float bias.
    dropout_p : float
        Must be 0 (there is no dropout at inference).
    is_causal : bool
        Attend only to keys ``j <= i``: ``tril(ones(L, S))``, top-left
        aligned as in PyTorch.  Not together with ``attn_mask``.
    scale : float, optional
        Default ``1 / sqrt(D)``.
    enable_gqa : bool
        Grouped-query attention: query heads (dim -3) a multiple of the
        key/value heads, each key/value head shared by a group of query
        heads.

    Returns
    -------
    Tensor
        ``(*, L, Dv)``.  A query row whose keys are all masked gives 0, as
        PyTorch does.

    Raises
    ------
    ValueError
        Fewer than 2 dims, head dims or key/value lengths that differ,
        batch dims or a mask that do not broadcast, a mask together with
        ``is_causal``.
    TypeError
        Dtypes that differ or are not floating, a mask of another dtype.

    Examples
    --------
    >>> import fasttensor as ft
    >>> q = ft.ones((1, 2, 4)); k = ft.ones((1, 3, 4)); v = ft.ones((1, 3, 5))
    >>> ft.scaled_dot_product_attention(q, k, v).shape
    (1, 2, 5)
    """
    return _attention(query, key, value, attn_mask, dropout_p, is_causal,
                      scale, enable_gqa, False)


cdef bint _attention_on_engine(int64_t L, int64_t D) noexcept:
    """Whether a bfloat16 attention of L query rows and head dim D runs on
    the bfloat16 matrix engine: one must run, and L must reach the tile
    engines' minimum (fewer rows, as in decoding, stay on the vector
    units)."""
    return (L >= kBf16TileMinRows and D > 0 and
            ft_bf16_engine() != Bf16Engine.convert)


def _attention_bf16_tune(qb=0, kb=0, whole_bytes=0):
    """Set the bfloat16 engine path's q and key blocks (rounded up to 32)
    and the largest K and V packed once per work unit; 0 restores each
    default.  Tests use it to cross block edges on small inputs."""
    ft_attention_bf16_tune(operator.index(qb), operator.index(kb),
                           operator.index(whole_bytes))


cdef object _attention(query, key, value, attn_mask, dropout_p, is_causal,
                       scale, enable_gqa, bint f32_as_bf16):
    """scaled_dot_product_attention.  With f32_as_bf16 (bfloat16 autocast,
    float32 query, key and value) the operands count as bfloat16: the
    engine path rounds them while packing, the float32 path casts them
    first, and the result is bfloat16."""
    op = "scaled_dot_product_attention"
    cdef Tensor q0 = as_tensor(query)
    cdef Tensor k0 = as_tensor(key)
    cdef Tensor v0 = as_tensor(value)
    if q0.nd < 2 or k0.nd < 2 or v0.nd < 2:
        raise ValueError(
            f"{op}: query, key and value need at least 2 dims, got shapes "
            f"{q0.shape}, {k0.shape}, {v0.shape}")
    if not (q0.dt == k0.dt == v0.dt):
        raise TypeError(
            f"{op}: query, key and value must have one dtype, got "
            f"{q0.dtype}, {k0.dtype}, {v0.dtype}")
    if not dt_is_float(q0.dt):
        raise TypeError(
            f"{op}: query, key and value must be floating, got {q0.dtype}")
    if dropout_p:
        raise NotImplementedError(
            f"{op}: dropout_p={dropout_p} is not supported (inference only); "
            f"pass dropout_p=0.0")
    cdef int64_t L = q0.shp[q0.nd - 2]
    cdef int64_t D = q0.shp[q0.nd - 1]
    cdef int64_t S = k0.shp[k0.nd - 2]
    cdef int64_t Dv = v0.shp[v0.nd - 1]
    if k0.shp[k0.nd - 1] != D:
        raise ValueError(
            f"{op}: query and key head dims differ (query.shape={q0.shape}, "
            f"key.shape={k0.shape}: {D} != {k0.shp[k0.nd - 1]})")
    if v0.shp[v0.nd - 2] != S:
        raise ValueError(
            f"{op}: key and value lengths differ (key.shape={k0.shape}, "
            f"value.shape={v0.shape}: {S} != {v0.shp[v0.nd - 2]})")
    if attn_mask is not None and is_causal:
        raise ValueError(
            f"{op}: attn_mask and is_causal=True cannot be combined; fold "
            f"the causal cut into the mask")
    # bfloat16 attention (or float32 under bfloat16 autocast) on the
    # matrix engine reads q, k and v as they are; every other path computes
    # in float32 or float64 on operands cast to it.
    cdef bint engine = False
    if q0.dt == kBFloat16 or f32_as_bf16:
        engine = _attention_on_engine(L, D)
        if f32_as_bf16 and not engine:
            q0, k0, v0 = (cast_to(q0, kBFloat16), cast_to(k0, kBFloat16),
                          cast_to(v0, kBFloat16))
    cdef int res_dt = kBFloat16 if f32_as_bf16 else q0.dt
    cdef int dt = q0.dt if (q0.dt == kFloat32 or q0.dt == kFloat64) else kFloat32
    cdef Tensor q, k, v
    if engine:
        q, k, v = _attn_operand(q0), _attn_operand(k0), _attn_operand(v0)
    else:
        q = _attn_operand(cast_to(q0, dt))
        k = _attn_operand(cast_to(k0, dt))
        v = _attn_operand(cast_to(v0, dt))
    cdef int64_t g = 1
    if enable_gqa:
        # View query heads (dim -3) as (kv heads, group) and broadcast key
        # and value over the group: head h reads key/value head h // g.
        if q.nd < 3 or k.nd < 3 or v.nd < 3:
            raise ValueError(
                f"{op}: enable_gqa needs a heads dim (-3) in query, key and "
                f"value, got shapes {q.shape}, {k.shape}, {v.shape}")
        hq = q.shp[q.nd - 3]
        hk = k.shp[k.nd - 3]
        if hk != v.shp[v.nd - 3] or hk == 0 or hq % hk:
            raise ValueError(
                f"{op}: with enable_gqa the query heads ({hq}) must be a "
                f"multiple of the key/value heads (key.shape={k.shape}, "
                f"value.shape={v.shape})")
        g = hq // hk
        # (The module is built with wraparound off: no negative indices.)
        qs = q.shape
        q = reshape(q, qs[:q.nd - 3] + (hk, g) + qs[q.nd - 2:])
        ks = k.shape
        k = reshape(k, ks[:k.nd - 2] + (1,) + ks[k.nd - 2:])
        vs = v.shape
        v = reshape(v, vs[:v.nd - 2] + (1,) + vs[v.nd - 2:])

    # Broadcast the batch dims.
    cdef int64_t bsh[MAXDIM]
    cdef int64_t tmp[MAXDIM]
    cdef int nb = broadcast_shape(q.nd - 2, q.shp, k.nd - 2, k.shp, tmp, op)
    nb = broadcast_shape(nb, tmp, v.nd - 2, v.shp, bsh, op)
    cdef int64_t full[MAXDIM]
    cdef int i
    for i in range(nb):
        full[i] = bsh[i]
    full[nb] = L
    full[nb + 1] = D
    q = expand_to(q, nb + 2, full, op)
    full[nb] = S
    k = expand_to(k, nb + 2, full, op)
    full[nb + 1] = Dv
    v = expand_to(v, nb + 2, full, op)

    # The mask, broadcast to (*, L, S).
    cdef Tensor m = None
    cdef int mask_kind = 0
    if attn_mask is not None:
        m = as_tensor(attn_mask)
        if m.dt == kBool:
            mask_kind = 1
        elif dt_is_float(m.dt):
            mask_kind = 2
            m = cast_to(m, dt)
        else:
            raise TypeError(
                f"{op}: attn_mask must be bool or floating, got {m.dtype}")
        full[nb] = L
        full[nb + 1] = S
        if m.nd > nb + 2:
            raise ValueError(
                f"{op}: attn_mask of shape {m.shape} does not broadcast to "
                f"{shape_tuple(nb + 2, full)}")
        try:
            m = expand_to(m, nb + 2, full, op)
        except ValueError:
            raise ValueError(
                f"{op}: attn_mask of shape {m.shape} does not broadcast to "
                f"{shape_tuple(nb + 2, full)}") from None
        m = _attn_operand(m)

    full[nb] = L
    full[nb + 1] = Dv
    cdef Tensor o = new_tensor(nb + 2, full, dt)
    cdef double sc
    if scale is None:
        sc = 1.0 / _math.sqrt(D) if D > 0 else _math.inf
    else:
        sc = float(scale)

    cdef int64_t es = q.itemsize
    cdef int64_t eo = o.itemsize
    cdef int64_t bq[MAXDIM]
    cdef int64_t bk[MAXDIM]
    cdef int64_t bv[MAXDIM]
    cdef int64_t bm[MAXDIM]
    cdef int64_t bo[MAXDIM]
    for i in range(nb):
        bq[i] = q.strd[i] // es
        bk[i] = k.strd[i] // es
        bv[i] = v.strd[i] // es
        bo[i] = o.strd[i] // eo
        bm[i] = 0 if m is None else m.strd[i] // m.itemsize
    cdef AttentionArgs a
    a.dt = <DType>dt
    a.nbatch = nb
    a.bshape = bsh
    a.bs_q = bq
    a.bs_k = bk
    a.bs_v = bv
    a.bs_m = bm
    a.bs_o = bo
    a.L = L
    a.S = S
    a.D = D
    a.Dv = Dv
    a.q = q.data
    a.rs_q = q.strd[nb] // es
    a.cs_q = q.strd[nb + 1] // es
    a.k = k.data
    a.rs_k = k.strd[nb] // es
    a.cs_k = k.strd[nb + 1] // es
    a.v = v.data
    a.rs_v = v.strd[nb] // es
    a.cs_v = v.strd[nb + 1] // es
    a.mask_kind = mask_kind
    a.mask = NULL
    if m is not None:
        a.mask = m.data
    a.rs_m = 0 if m is None else m.strd[nb] // m.itemsize
    a.cs_m = 0 if m is None else m.strd[nb + 1] // m.itemsize
    a.causal = bool(is_causal)
    a.scale = sc
    a.out = o.data
    a.rs_o = o.strd[nb] // eo
    a.cs_o = o.strd[nb + 1] // eo
    a.bf16_engine = engine
    a.qkv_f32 = engine and q.dt == kFloat32
    cdef int status
    with nogil:
        status = ft_sdpa(a)
    check_status(status, op)
    if enable_gqa:
        os_ = o.shape
        n_ = o.nd
        o = reshape(o, os_[:n_ - 4] + (os_[n_ - 4] * os_[n_ - 3],) + os_[n_ - 2:])
    if res_dt != dt:
        return cast_to(o, res_dt)
    return o
