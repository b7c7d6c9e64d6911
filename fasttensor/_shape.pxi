# Shape manipulation: views where the layout allows, copies otherwise.

cdef bint _nocopy_strides(Tensor t, int nnd, const int64_t* nshape,
                          int64_t* nstrides) noexcept:
    """Strides that view ``t`` with shape ``nshape`` without copying (C
    order); False when the layout makes that impossible."""
    cdef int64_t oshape[MAXDIM]
    cdef int64_t ostrides[MAXDIM]
    cdef int ond = 0
    cdef int i
    for i in range(t.nd):
        if t.shp[i] != 1:
            oshape[ond] = t.shp[i]
            ostrides[ond] = t.strd[i]
            ond += 1
    cdef int oi = 0, oj = 1, ni = 0, nj = 1, ok, nk
    cdef int64_t np_, op_
    while ni < nnd and oi < ond:
        np_ = nshape[ni]
        op_ = oshape[oi]
        while np_ != op_:
            if np_ < op_:
                np_ *= nshape[nj]
                nj += 1
            else:
                op_ *= oshape[oj]
                oj += 1
        for ok in range(oi, oj - 1):
            if ostrides[ok] != oshape[ok + 1] * ostrides[ok + 1]:
                return False
        nstrides[nj - 1] = ostrides[oj - 1]
        for nk in range(nj - 1, ni, -1):
            nstrides[nk - 1] = nstrides[nk] * nshape[nk]
        ni = nj
        nj += 1
        oi = oj
        oj += 1
    cdef int64_t last = nstrides[ni - 1] if ni >= 1 else t.itemsize
    for nk in range(ni, nnd):
        nstrides[nk] = last
    return True


def reshape(x, shape, *, copy=None):
    """A tensor with the same elements and a new shape.

    Returns a view when the layout allows it, otherwise a copy (NumPy's
    rule).  One dimension may be -1 and is then inferred.

    Parameters
    ----------
    x : array_like
    shape : int or sequence of ints
    copy : bool, optional
        True always copies; False raises ValueError instead of copying.

    Raises
    ------
    ValueError
        When the sizes differ or more than one dimension is -1.
    """
    cdef Tensor t = as_tensor(x)
    if isinstance(shape, (int, np.integer)):
        shape = (shape,)
    try:
        dims = [operator.index(s) for s in shape]
    except TypeError:
        raise TypeError(
            f"reshape: shape must be a sequence of ints, got {shape!r}") from None
    if len(dims) > MAXDIM:
        raise ValueError(f"reshape: at most {MAXDIM} dimensions, got {len(dims)}")
    cdef int64_t total = numel(t)
    unknown = [i for i, d in enumerate(dims) if d == -1]
    if len(unknown) > 1:
        raise ValueError("reshape: can only specify one unknown dimension")
    for d in dims:
        if d < -1:
            raise ValueError(f"reshape: invalid dimension {d} in shape {tuple(dims)}")
    if unknown:
        known = 1
        for d in dims:
            if d != -1:
                known *= d
        if known == 0 or total % known != 0:
            raise ValueError(
                f"cannot reshape tensor of size {total} into shape "
                f"{tuple(dims)}")
        dims[unknown[0]] = total // known
    known = 1
    for d in dims:
        known *= d
    if known != total:
        raise ValueError(
            f"cannot reshape tensor of size {total} into shape {tuple(dims)}")
    cdef int64_t nshape[MAXDIM]
    cdef int64_t nstrides[MAXDIM]
    cdef int nd = len(dims)
    cdef int i
    for i in range(nd):
        nshape[i] = dims[i]
    if not copy:
        if total == 0 or _nocopy_strides(t, nd, nshape, nstrides):
            if total == 0:
                _c_strides(nd, nshape, t.itemsize, nstrides)
            return make_view(t, t.data, nd, nshape, nstrides)
        if copy is False:
            raise ValueError(
                f"reshape: a tensor with shape {t.shape} and strides "
                f"{t.strides} cannot be viewed as shape {tuple(dims)} "
                "without a copy")
    cdef Tensor c = copy_tensor(t)
    _c_strides(nd, nshape, t.itemsize, nstrides)
    return make_view(c, c.data, nd, nshape, nstrides)


cdef void _c_strides(int nd, const int64_t* shape, int64_t itemsize,
                     int64_t* strides) noexcept:
    cdef int64_t s = itemsize
    cdef int i
    for i in range(nd - 1, -1, -1):
        strides[i] = s
        s *= shape[i] if shape[i] > 0 else 1


def flatten(x, start_dim=0, end_dim=-1):
    """Merge the dims ``start_dim..end_dim`` into one (PyTorch's flatten).

    A view when the layout allows, else a copy; ``flatten(x)`` is 1-D and
    ``flatten(x, start_dim=1)`` keeps the batch dim, as in the seed's
    ``F.flatten(conv_output, start_dim=1)``.
    """
    cdef Tensor t = as_tensor(x)
    if t.nd == 0:
        return reshape(t, (1,))
    cdef int s = norm_axis(start_dim, t.nd, "flatten")
    cdef int e = norm_axis(end_dim, t.nd, "flatten")
    if s > e:
        raise ValueError(
            f"flatten: start_dim ({start_dim}) comes after end_dim ({end_dim})")
    shape = t.shape
    merged = 1
    for d in shape[s:e + 1]:
        merged *= d
    return reshape(t, shape[:s] + (merged,) + shape[e + 1:])


def ravel(x):
    """The elements as a 1-D tensor (a view when possible)."""
    return reshape(x, (-1,))


cdef Tensor _permuted(Tensor t, list perm):
    cdef int64_t shape[MAXDIM]
    cdef int64_t strides[MAXDIM]
    cdef int i
    for i in range(t.nd):
        shape[i] = t.shp[<int>perm[i]]
        strides[i] = t.strd[<int>perm[i]]
    return make_view(t, t.data, t.nd, shape, strides)


def permute_dims(x, axes):
    """Permute the axes: result axis i is input axis ``axes[i]`` (a view)."""
    cdef Tensor t = as_tensor(x)
    axes = list(axes)
    if len(axes) != t.nd:
        raise ValueError(
            f"permute_dims: axes {tuple(axes)} don't match a tensor with "
            f"{t.nd} dimensions")
    perm = [norm_axis(a, t.nd, "permute_dims") for a in axes]
    if len(set(perm)) != len(perm):
        raise ValueError(f"permute_dims: repeated axis in {tuple(axes)}")
    return _permuted(t, perm)


def transpose(x, axes=None):
    """Permute the axes (NumPy's meaning); reverse them when ``axes`` is None."""
    cdef Tensor t = as_tensor(x)
    if axes is None:
        return _permuted(t, list(range(t.nd - 1, -1, -1)))
    return permute_dims(t, axes)


def swapaxes(x, axis1, axis2):
    """Swap two axes (a view)."""
    cdef Tensor t = as_tensor(x)
    cdef int a = norm_axis(axis1, t.nd, "swapaxes")
    cdef int b = norm_axis(axis2, t.nd, "swapaxes")
    perm = list(range(t.nd))
    perm[a], perm[b] = perm[b], perm[a]
    return _permuted(t, perm)


def moveaxis(x, source, destination):
    """Move one axis to a new position (a view)."""
    cdef Tensor t = as_tensor(x)
    cdef int s = norm_axis(source, t.nd, "moveaxis")
    cdef int d = norm_axis(destination, t.nd, "moveaxis")
    perm = [i for i in range(t.nd) if i != s]
    perm.insert(d, s)
    return _permuted(t, perm)


def expand_dims(x, axis):
    """Insert dims of size one at ``axis`` (an int or a tuple; a view)."""
    cdef Tensor t = as_tensor(x)
    axes = axis if isinstance(axis, (tuple, list)) else (axis,)
    cdef int nd = t.nd + len(axes)
    where = sorted(norm_axis(a, nd, "expand_dims") for a in axes)
    if len(set(where)) != len(where):
        raise ValueError(f"expand_dims: repeated axis in {tuple(axes)}")
    shape = list(t.shape)
    for a in where:
        shape.insert(a, 1)
    return reshape(t, shape)


def unsqueeze(x, dim):
    """Insert one dim of size one at ``dim`` (PyTorch's name; a view)."""
    return expand_dims(x, dim)


def squeeze(x, axis=None):
    """Remove dims of size one: all of them, or those named by ``axis``."""
    cdef Tensor t = as_tensor(x)
    if axis is None:
        keep = [i for i in range(t.nd) if t.shp[i] != 1]
    else:
        axes = axis if isinstance(axis, (tuple, list)) else (axis,)
        drop = {norm_axis(a, t.nd, "squeeze") for a in axes}
        for a in drop:
            if t.shp[a] != 1:
                raise ValueError(
                    "squeeze: cannot select an axis to squeeze out which has "
                    f"size not equal to one (axis {a} has size {t.shp[a]})")
        keep = [i for i in range(t.nd) if i not in drop]
    cdef int64_t shape[MAXDIM]
    cdef int64_t strides[MAXDIM]
    cdef int n = 0
    for i in keep:
        shape[n] = t.shp[<int>i]
        strides[n] = t.strd[<int>i]
        n += 1
    return make_view(t, t.data, n, shape, strides)


def broadcast_to(x, shape):
    """A read-only view of ``x`` broadcast to ``shape``."""
    cdef Tensor t = as_tensor(x)
    cdef int64_t dims[MAXDIM]
    cdef int nd = parse_shape(shape, dims, "broadcast_to")
    cdef Tensor v = expand_to(t, nd, dims, "broadcast_to")
    if v is t:
        v = make_view(t, t.data, t.nd, t.shp, t.strd)
    v.readonly = True
    return v


def broadcast_shapes(*shapes):
    """The shape that the given shapes broadcast to."""
    cdef int64_t acc[MAXDIM]
    cdef int64_t cur[MAXDIM]
    cdef int64_t res[MAXDIM]
    cdef int nd = 0, n, i
    for s in shapes:
        n = parse_shape(s, cur, "broadcast_shapes")
        nd = broadcast_shape(nd, acc, n, cur, res, "broadcast_shapes")
        for i in range(nd):
            acc[i] = res[i]
    return shape_tuple(nd, acc)


def broadcast_arrays(*arrays):
    """Views of the inputs broadcast against each other (a tuple)."""
    tensors = [as_tensor(a) for a in arrays]
    shape = broadcast_shapes(*[t.shape for t in tensors])
    return tuple(broadcast_to(t, shape) for t in tensors)


def concatenate(arrays, axis=0, out=None, dtype=None, *, dim=None):
    """Join tensors along an existing axis.

    Parameters
    ----------
    arrays : sequence of array_like
        Same shape except along ``axis``.
    axis : int or None, optional
        The joining axis (default 0); None flattens every input first.
    out : Tensor, optional
        Where to write the result; it must have the result's shape and dtype.
    dtype : dtype, optional
        The result's dtype; by default the inputs' promoted dtype.
    dim : int, optional
        PyTorch's name for ``axis``.

    Raises
    ------
    ValueError
        For an empty sequence, 0-d inputs or mismatched shapes.
    numpy.exceptions.AxisError
        For an axis out of range.

    Examples
    --------
    >>> import fasttensor as ft
    >>> ft.cat((ft.tensor([0.1, 0.2]), ft.tensor([0.4, 0.5])), dim=0).shape
    (4,)
    """
    if dim is not None:
        axis = dim
    tensors = [as_tensor(a) for a in arrays]
    if not tensors:
        raise ValueError("concatenate: need at least one array to concatenate")
    if axis is None:
        tensors = [ravel(t) for t in tensors]
        axis = 0
    cdef Tensor first = tensors[0]
    if first.nd == 0:
        raise ValueError("concatenate: zero-dimensional arrays cannot be concatenated")
    cdef int ax = norm_axis(axis, first.nd, "concatenate")
    cdef int rdt = first.dt
    cdef Tensor t
    cdef int i, j
    cdef int64_t total = 0
    for i, t in enumerate(tensors):
        if t.nd != first.nd:
            raise ValueError(
                "concatenate: all the input arrays must have the same number "
                f"of dimensions, but the array at index 0 has {first.nd} "
                f"dimension(s) and the array at index {i} has {t.nd}")
        for j in range(first.nd):
            if j != ax and t.shp[j] != first.shp[j]:
                raise ValueError(
                    "concatenate: all the input array dimensions except for "
                    f"the concatenation axis must match exactly, but along "
                    f"dimension {j}, the array at index 0 has size "
                    f"{first.shp[j]} and the array at index {i} has size "
                    f"{t.shp[j]}")
        total += t.shp[ax]
        rdt = promote(rdt, t.dt)
    if dtype is not None:
        rdt = dt_of(dtype)
    cdef int64_t shape[MAXDIM]
    for j in range(first.nd):
        shape[j] = first.shp[j]
    shape[ax] = total
    cdef Tensor res = prepare_out(out, first.nd, shape, rdt, "concatenate")
    cdef Tensor part
    cdef int64_t offset = 0
    for t in tensors:
        for j in range(first.nd):
            shape[j] = res.shp[j]
        shape[ax] = t.shp[ax]
        part = make_view(res, res.data + offset * res.strd[ax], res.nd, shape,
                         res.strd)
        if shares_buffer(t, res):
            t = copy_tensor(t)
        copy_into(part, t)
        offset += t.shp[ax]
    return res


def cat(tensors, dim=0, *, axis=None, out=None):
    """PyTorch's name for :func:`concatenate` (``dim=`` or ``axis=``)."""
    return concatenate(tensors, axis=dim if axis is None else axis, out=out)


concat = concatenate


def stack(arrays, axis=0, out=None, *, dim=None):
    """Join same-shaped tensors along a new axis."""
    if dim is not None:
        axis = dim
    tensors = [as_tensor(a) for a in arrays]
    if not tensors:
        raise ValueError("stack: need at least one array to stack")
    shape0 = tensors[0].shape
    for i, t in enumerate(tensors):
        if t.shape != shape0:
            raise ValueError(
                "stack: all input arrays must have the same shape, but the "
                f"array at index 0 has shape {shape0} and the array at index "
                f"{i} has shape {t.shape}")
    cdef int ax = norm_axis(axis, len(shape0) + 1, "stack")
    return concatenate([expand_dims(t, ax) for t in tensors], axis=ax, out=out)


def split(x, indices_or_sections, axis=0):
    """Split into views along ``axis``: into N equal parts, or at indices.

    Raises
    ------
    ValueError
        When N equal parts are asked for and the axis does not divide.
    """
    cdef Tensor t = as_tensor(x)
    cdef int ax = norm_axis(axis, t.nd, "split")
    cdef int64_t n = t.shp[ax]
    if isinstance(indices_or_sections, (int, np.integer)):
        sections = int(indices_or_sections)
        if sections <= 0:
            raise ValueError(f"split: number of sections must be larger than 0, got {sections}")
        if n % sections:
            raise ValueError(
                f"split: array split does not result in an equal division "
                f"({n} elements into {sections} sections)")
        step = n // sections
        bounds = [i * step for i in range(sections + 1)]
    else:
        idx = [operator.index(i) for i in indices_or_sections]
        bounds = [0] + idx + [n]
    parts = []
    key = [slice(None)] * t.nd
    for b, e in zip(bounds[:len(bounds) - 1], bounds[1:]):
        key[ax] = slice(b, e)
        parts.append(t[tuple(key)])
    return parts
