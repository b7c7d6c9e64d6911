# Buffer and Tensor: storage, views, conversion and the Python protocols
# (buffer protocol, __array__, DLPack, indexing, operators).

import builtins

cdef extern from *:
    """
    alignas(64) static char ft_empty_data[64];
    """
    char ft_empty_data[64]

cdef extern from "Python.h":
    int Py_IsInitialized() nogil

from cpython.object cimport PyTypeObject

cdef extern from "numpy/arrayobject.h":
    ctypedef struct NpyDescr "PyArray_Descr":
        pass
    object PyArray_NewFromDescr(PyTypeObject* subtype, NpyDescr* descr, int nd,
                                cnp.npy_intp* dims, cnp.npy_intp* strides,
                                void* data, int flags, PyObject* obj)

cdef extern from "core/dlpack_abi.h":
    ctypedef struct DLDevice:
        int32_t device_type
        int32_t device_id
    ctypedef struct DLDataType:
        uint8_t code
        uint8_t bits
        uint16_t lanes
    ctypedef struct DLTensor:
        void* data
        DLDevice device
        int32_t ndim
        DLDataType dtype
        int64_t* shape
        int64_t* strides
        uint64_t byte_offset
    ctypedef struct DLManagedTensor:
        DLTensor dl_tensor
        void* manager_ctx
        void (*deleter)(DLManagedTensor*) noexcept
    ctypedef struct DLPackVersion:
        uint32_t major
        uint32_t minor
    ctypedef struct DLManagedTensorVersioned:
        DLPackVersion version
        void* manager_ctx
        void (*deleter)(DLManagedTensorVersioned*) noexcept
        uint64_t flags
        DLTensor dl_tensor
    enum:
        kDLCPU
        kDLInt
        kDLUInt
        kDLFloat
        kDLBfloat
        kDLBool
    uint64_t FT_DLPACK_FLAG_READ_ONLY
    uint64_t FT_DLPACK_FLAG_IS_COPIED
    int FT_DLPACK_MAJOR
    int FT_DLPACK_MINOR


cdef class Buffer:
    """A block of memory shared by a tensor and all its views.

    The block comes from the memory pool, or is borrowed from another owner
    (a NumPy array, a buffer-protocol object, a DLPack producer) that this
    object keeps alive and never frees itself.
    """
    cdef char* ptr
    cdef size_t nbytes
    cdef bint pooled
    cdef object owner
    cdef DLManagedTensor* dl_legacy
    cdef DLManagedTensorVersioned* dl_versioned
    # Storage of 0-d scalar operands (t * 2.0), so that they need no pool
    # block; doubles keep it 8-byte aligned.
    cdef double small[2]

    def __dealloc__(self):
        if self.pooled:
            pool_free(self.ptr, self.nbytes)
        elif self.dl_versioned != NULL:
            if self.dl_versioned.deleter != NULL:
                self.dl_versioned.deleter(self.dl_versioned)
        elif self.dl_legacy != NULL:
            if self.dl_legacy.deleter != NULL:
                self.dl_legacy.deleter(self.dl_legacy)


cdef Buffer pool_buffer(size_t nbytes):
    cdef Buffer b = Buffer.__new__(Buffer)
    if nbytes == 0:
        b.ptr = ft_empty_data
        return b
    b.ptr = <char*>pool_alloc_or_raise(nbytes)
    b.nbytes = nbytes
    b.pooled = True
    return b


cdef class Tensor:
    """An n-dimensional array on fasttensor's kernels.

    Tensors are created with :func:`asarray`, :func:`tensor`, :func:`zeros`
    and the other creation functions, not by calling this class.  A tensor
    is a strided view (shape, byte strides, dtype) over a shared buffer;
    slicing, transposing and most reshapes return views of the same buffer.
    """
    cdef Buffer base
    cdef char* data
    cdef int nd
    cdef int64_t shp[MAXDIM]
    cdef int64_t strd[MAXDIM]
    cdef int dt
    cdef int64_t itemsize
    cdef bint readonly
    cdef int exports
    cdef object __weakref__

    def __init__(self, *args, **kwargs):
        raise TypeError(
            "fasttensor.Tensor cannot be created directly; use "
            "fasttensor.asarray, fasttensor.tensor or a creation function")

    # ------------------------------------------------------------ attributes

    @property
    def shape(self):
        """Tuple of dimension sizes."""
        return tuple([self.shp[i] for i in range(self.nd)])

    @property
    def strides(self):
        """Tuple of byte steps per dimension (NumPy's convention)."""
        return tuple([self.strd[i] for i in range(self.nd)])

    @property
    def ndim(self):
        """Number of dimensions."""
        return self.nd

    @property
    def size(self):
        """Number of elements."""
        return numel(self)

    @property
    def dtype(self):
        """Element type, a ``numpy.dtype``."""
        return _DTYPE_OF[self.dt]

    @property
    def itemsize(self):
        """Bytes per element."""
        return self.itemsize

    @property
    def nbytes(self):
        """Bytes spanned by the elements (size * itemsize)."""
        return numel(self) * self.itemsize

    @property
    def device(self):
        """Where the data lives: always ``"cpu"``."""
        return "cpu"

    @property
    def T(self):
        """The tensor with its axes reversed (a view)."""
        return transpose(self)

    @property
    def mT(self):
        """The last two axes swapped (a view); needs ndim >= 2."""
        if self.nd < 2:
            raise ValueError(
                f"mT: tensor must have at least 2 dimensions, got {self.nd}")
        return swapaxes(self, -1, -2)

    @property
    def is_readonly(self):
        """True when writes are refused (memory borrowed read-only)."""
        return bool(self.readonly)

    def data_ptr(self):
        """Address of the first element, as an int."""
        return <size_t>self.data

    def is_contiguous(self):
        """True when the elements are laid out in C order without gaps."""
        return is_c_contig(self)

    # ------------------------------------------------------------ conversion

    def numpy(self):
        """A NumPy array viewing the same memory (no copy)."""
        return to_numpy(self)

    def __array__(self, dtype=None, copy=None):
        arr = to_numpy(self)
        if dtype is not None and np.dtype(dtype) != arr.dtype:
            if copy is False:
                raise ValueError(
                    f"__array__: converting {arr.dtype} to {np.dtype(dtype)} "
                    "needs a copy, but copy=False")
            return arr.astype(dtype)
        if copy:
            return arr.copy()
        return arr

    def __array_namespace__(self, *, api_version=None):
        import fasttensor
        return fasttensor

    def tolist(self):
        """The elements as (nested) Python lists of Python scalars."""
        return to_numpy(self).tolist()

    def item(self, *args):
        """The single element as a Python scalar.

        With arguments, the element at that flat or multi-dimensional index.
        """
        if not args and numel(self) != 1:
            raise ValueError(
                "item: can only convert a tensor of size 1 to a Python scalar, "
                f"got size {numel(self)}")
        return to_numpy(self).item(*args)

    def __len__(self):
        if self.nd == 0:
            raise TypeError("len() of unsized object")
        return self.shp[0]

    def __bool__(self):
        if numel(self) != 1:
            raise ValueError(
                f"The truth value of a tensor with {numel(self)} elements is "
                "ambiguous. Use a.any() or a.all()")
        return bool(to_numpy(self).item())

    def __float__(self):
        if numel(self) != 1:
            raise TypeError("only tensors of size 1 can be converted to Python scalars")
        return float(to_numpy(self).item())

    def __int__(self):
        if numel(self) != 1:
            raise TypeError("only tensors of size 1 can be converted to Python scalars")
        return int(to_numpy(self).item())

    def __index__(self):
        if self.nd != 0 or not (dt_is_int(self.dt) or self.dt == kBool):
            raise TypeError(
                "only integer scalar tensors can be converted to a scalar index")
        return operator.index(to_numpy(self).item())

    def __repr__(self):
        arr = to_numpy(self)
        body = np.array2string(arr, separator=", ", prefix="tensor(")
        if self.dt in (kFloat32, kInt64, kBool) and numel(self) > 0:
            return f"tensor({body})"
        return f"tensor({body}, dtype={arr.dtype})"

    def __str__(self):
        return np.array2string(to_numpy(self))

    # ------------------------------------------------------------ buffer protocol

    def __getbuffer__(self, Py_buffer* view, int flags):
        if (flags & PyBUF_WRITABLE) == PyBUF_WRITABLE and self.readonly:
            raise BufferError("fasttensor: the tensor is read-only")
        if (flags & PyBUF_STRIDES) != PyBUF_STRIDES and not is_c_contig(self):
            raise BufferError(
                "fasttensor: the tensor is not C-contiguous; ask for strides")
        if (flags & 0x20) == 0x20 and not is_c_contig(self):  # PyBUF_C_CONTIGUOUS
            raise BufferError("fasttensor: the tensor is not C-contiguous")
        if (flags & 0x40) == 0x40 and not is_f_contig(self):  # PyBUF_F_CONTIGUOUS
            raise BufferError("fasttensor: the tensor is not Fortran-contiguous")
        if _FORMAT_OF[self.dt] is None:
            raise BufferError(
                f"fasttensor: {self.dtype} has no buffer-protocol format code; "
                "use numpy.asarray(t) (zero-copy through __array__ or "
                "DLPack) or t.astype(...)")
        view.buf = self.data
        view.obj = self
        view.len = numel(self) * self.itemsize
        view.readonly = self.readonly
        view.itemsize = self.itemsize
        if (flags & PyBUF_FORMAT) == PyBUF_FORMAT:
            view.format = <char*>(<bytes>_FORMAT_OF[self.dt])
        else:
            view.format = NULL
        view.ndim = self.nd
        if (flags & PyBUF_ND) == PyBUF_ND:
            view.shape = <Py_ssize_t*>self.shp
        else:
            view.shape = NULL
        if (flags & PyBUF_STRIDES) == PyBUF_STRIDES:
            view.strides = <Py_ssize_t*>self.strd
        else:
            view.strides = NULL
        view.suboffsets = NULL
        view.internal = NULL
        self.exports += 1

    def __releasebuffer__(self, Py_buffer* view):
        self.exports -= 1

    # ------------------------------------------------------------ DLPack

    def __dlpack_device__(self):
        return (kDLCPU, 0)

    def __dlpack__(self, *, stream=None, max_version=None, dl_device=None,
                   copy=None):
        if stream is not None:
            raise BufferError(
                f"__dlpack__: stream must be None for CPU tensors, got {stream!r}")
        if dl_device is not None and tuple(dl_device) != (kDLCPU, 0):
            raise BufferError(
                f"__dlpack__: unsupported device requested: {tuple(dl_device)}")
        cdef Tensor src = self
        cdef bint copied = False
        if copy:
            src = copy_tensor(self)
            copied = True
        versioned = max_version is not None and tuple(max_version)[0] >= 1
        if not versioned and src.readonly:
            raise BufferError(
                "__dlpack__: a read-only tensor cannot be exported through "
                "the legacy (unversioned) DLPack interface")
        return dlpack_export(src, versioned, copied)

    # ------------------------------------------------------------ indexing

    def __getitem__(self, key):
        cdef Tensor v = basic_index(self, key)
        if v is not None:
            return v
        # Advanced (integer-array or boolean) indexing: NumPy computes the
        # gathered result, which is a new tensor, as in NumPy.
        return asarray(to_numpy(self)[_numpy_key(key)], copy=True)

    def __setitem__(self, key, value):
        if self.readonly:
            raise ValueError("assignment destination is read-only")
        cdef Tensor dst = basic_index(self, key)
        if dst is None:
            arr = to_numpy(self)
            arr[_numpy_key(key)] = np.asarray(value)
            return
        assign(dst, value, "__setitem__")

    # ------------------------------------------------------------ operators

    def __add__(self, other):
        return _binary_or_notimpl("add", self, other)

    def __radd__(self, other):
        return _binary_or_notimpl("add", other, self)

    def __sub__(self, other):
        return _binary_or_notimpl("subtract", self, other)

    def __rsub__(self, other):
        return _binary_or_notimpl("subtract", other, self)

    def __mul__(self, other):
        return _binary_or_notimpl("multiply", self, other)

    def __rmul__(self, other):
        return _binary_or_notimpl("multiply", other, self)

    def __truediv__(self, other):
        return _binary_or_notimpl("divide", self, other)

    def __rtruediv__(self, other):
        return _binary_or_notimpl("divide", other, self)

    def __floordiv__(self, other):
        return _binary_or_notimpl("floor_divide", self, other)

    def __rfloordiv__(self, other):
        return _binary_or_notimpl("floor_divide", other, self)

    def __mod__(self, other):
        return _binary_or_notimpl("remainder", self, other)

    def __rmod__(self, other):
        return _binary_or_notimpl("remainder", other, self)

    def __pow__(self, other, mod=None):
        if mod is not None:
            return NotImplemented
        return _binary_or_notimpl("power", self, other)

    def __rpow__(self, other, mod=None):
        if mod is not None:
            return NotImplemented
        return _binary_or_notimpl("power", other, self)

    def __matmul__(self, other):
        return _binary_or_notimpl("matmul", self, other)

    def __rmatmul__(self, other):
        return _binary_or_notimpl("matmul", other, self)

    def __and__(self, other):
        return _binary_or_notimpl("bitwise_and", self, other)

    def __rand__(self, other):
        return _binary_or_notimpl("bitwise_and", other, self)

    def __or__(self, other):
        return _binary_or_notimpl("bitwise_or", self, other)

    def __ror__(self, other):
        return _binary_or_notimpl("bitwise_or", other, self)

    def __xor__(self, other):
        return _binary_or_notimpl("bitwise_xor", self, other)

    def __rxor__(self, other):
        return _binary_or_notimpl("bitwise_xor", other, self)

    def __iadd__(self, other):
        return _api("add")(self, other, out=self)

    def __isub__(self, other):
        return _api("subtract")(self, other, out=self)

    def __imul__(self, other):
        return _api("multiply")(self, other, out=self)

    def __itruediv__(self, other):
        return _api("divide")(self, other, out=self)

    def __ifloordiv__(self, other):
        return _api("floor_divide")(self, other, out=self)

    def __imod__(self, other):
        return _api("remainder")(self, other, out=self)

    def __ipow__(self, other):
        return _api("power")(self, other, out=self)

    def __imatmul__(self, other):
        return _api("matmul")(self, other, out=self)

    def __iand__(self, other):
        return _api("bitwise_and")(self, other, out=self)

    def __ior__(self, other):
        return _api("bitwise_or")(self, other, out=self)

    def __ixor__(self, other):
        return _api("bitwise_xor")(self, other, out=self)

    def __neg__(self):
        return _api("negative")(self)

    def __pos__(self):
        return _api("positive")(self)

    def __abs__(self):
        return _api("absolute")(self)

    def __invert__(self):
        if self.dt == kBool:
            return _api("logical_not")(self)
        if not dt_is_int(self.dt):
            raise TypeError(f"invert: not supported for dtype {self.dtype}")
        lo, hi = _INT_LIMITS[self.dt]
        return _api("bitwise_xor")(self, hi if lo == 0 else -1)

    def __eq__(self, other):
        return _binary_or_notimpl("equal", self, other)

    def __ne__(self, other):
        return _binary_or_notimpl("not_equal", self, other)

    def __lt__(self, other):
        return _binary_or_notimpl("less", self, other)

    def __le__(self, other):
        return _binary_or_notimpl("less_equal", self, other)

    def __gt__(self, other):
        return _binary_or_notimpl("greater", self, other)

    def __ge__(self, other):
        return _binary_or_notimpl("greater_equal", self, other)

    __hash__ = None

    # Let binary operators with a NumPy array on the left defer to Tensor.
    __array_priority__ = 100

    # ------------------------------------------------------------ methods

    def reshape(self, *shape):
        """A tensor of the same data with a new shape; see :func:`reshape`."""
        if len(shape) == 1 and not isinstance(shape[0], (int, np.integer)):
            shape = shape[0]
        return reshape(self, shape)

    def view(self, *shape):
        """Like :meth:`reshape` but never copies (PyTorch's ``view``)."""
        if len(shape) == 1 and not isinstance(shape[0], (int, np.integer)):
            shape = shape[0]
        return reshape(self, shape, copy=False)

    def flatten(self, start_dim=0, end_dim=-1):
        """Merge dims start_dim..end_dim into one; see :func:`flatten`."""
        return flatten(self, start_dim, end_dim)

    def ravel(self):
        """The elements as a 1-D tensor (a view when possible)."""
        return ravel(self)

    def transpose(self, *axes):
        """Permute the axes (NumPy's meaning); reverse them by default."""
        if len(axes) == 1 and not isinstance(axes[0], (int, np.integer)):
            axes = axes[0]
        return transpose(self, axes if axes else None)

    def permute(self, *dims):
        """Permute the axes (PyTorch's name for transpose with axes)."""
        if len(dims) == 1 and not isinstance(dims[0], (int, np.integer)):
            dims = dims[0]
        return permute_dims(self, dims)

    def swapaxes(self, axis1, axis2):
        """Swap two axes (a view)."""
        return swapaxes(self, axis1, axis2)

    def squeeze(self, axis=None):
        """Remove dims of size one; see :func:`squeeze`."""
        return squeeze(self, axis)

    def unsqueeze(self, dim):
        """Insert a dim of size one at ``dim``; see :func:`unsqueeze`."""
        return unsqueeze(self, dim)

    def expand_dims(self, axis):
        """Insert dims of size one; see :func:`expand_dims`."""
        return expand_dims(self, axis)

    def broadcast_to(self, shape):
        """A read-only broadcast view; see :func:`broadcast_to`."""
        return broadcast_to(self, shape)

    def astype(self, dtype, copy=True):
        """The elements converted to ``dtype``.

        With ``copy=False`` the tensor itself is returned when it already
        has that dtype.
        """
        cdef int to = dt_of(dtype)
        if to == self.dt and not copy:
            return self
        return cast_copy(self, to)

    def copy(self):
        """A C-contiguous copy with its own memory."""
        return copy_tensor(self)

    def contiguous(self):
        """The tensor itself when C-contiguous, else a C-contiguous copy."""
        return ascontig(self)

    def fill(self, value):
        """Set every element to ``value`` in place."""
        if self.readonly:
            raise ValueError("fill: the tensor is read-only")
        assign(self, value, "fill")

    def sum(self, axis=None, dtype=None, out=None, keepdims=False):
        return _api("sum")(self, axis=axis, dtype=dtype, out=out, keepdims=keepdims)

    def prod(self, axis=None, dtype=None, out=None, keepdims=False):
        return _api("prod")(self, axis=axis, dtype=dtype, out=out, keepdims=keepdims)

    def mean(self, axis=None, dtype=None, out=None, keepdims=False):
        return _api("mean")(self, axis=axis, dtype=dtype, out=out, keepdims=keepdims)

    def max(self, axis=None, out=None, keepdims=False):
        return _api("max")(self, axis=axis, out=out, keepdims=keepdims)

    def min(self, axis=None, out=None, keepdims=False):
        return _api("min")(self, axis=axis, out=out, keepdims=keepdims)

    def argmax(self, axis=None, out=None, keepdims=False):
        return _api("argmax")(self, axis=axis, out=out, keepdims=keepdims)

    def argmin(self, axis=None, out=None, keepdims=False):
        return _api("argmin")(self, axis=axis, out=out, keepdims=keepdims)

    def var(self, axis=None, dtype=None, out=None, ddof=0, keepdims=False):
        return _api("var")(self, axis=axis, dtype=dtype, out=out, ddof=ddof,
                   keepdims=keepdims)

    def std(self, axis=None, dtype=None, out=None, ddof=0, keepdims=False):
        return _api("std")(self, axis=axis, dtype=dtype, out=out, ddof=ddof,
                   keepdims=keepdims)

    def any(self, axis=None, out=None, keepdims=False):
        return _api("any")(self, axis=axis, out=out, keepdims=keepdims)

    def all(self, axis=None, out=None, keepdims=False):
        return _api("all")(self, axis=axis, out=out, keepdims=keepdims)

    def clip(self, min=None, max=None, out=None):
        return _api("clip")(self, min, max, out=out)

    def dot(self, other, out=None):
        return _api("dot")(self, other, out=out)

    def exp(self):
        return _api("exp")(self)

    def log(self):
        return _api("log")(self)

    def sqrt(self):
        return _api("sqrt")(self)

    def tanh(self):
        return _api("tanh")(self)

    def abs(self):
        return _api("absolute")(self)

    def softmax(self, dim=-1):
        return _api("softmax")(self, axis=dim)

    def __reduce__(self):
        return (asarray, (to_numpy(self).copy(),))


cdef dict _module_globals = globals()


cdef object _api(str name):
    """The module-level function ``name``.

    Tensor methods and operators reach the op families (defined in later
    include files) through this lookup, so that each family stays in its
    own file.
    """
    fn = _module_globals.get(name)
    if fn is None:
        raise NotImplementedError(f"fasttensor.{name} is not available in this build")
    return fn


cdef object _binary_or_notimpl(str name, object a, object b):
    """Call a binary op for an operator; NotImplemented for foreign types."""
    try:
        return _api(name)(a, b)
    except _ForeignOperand:
        return NotImplemented


class _ForeignOperand(TypeError):
    """An operand that fasttensor cannot turn into a tensor."""


# ---------------------------------------------------------------- helpers

cdef inline int64_t numel(Tensor t) noexcept:
    cdef int64_t n = 1
    cdef int i
    for i in range(t.nd):
        n *= t.shp[i]
    return n


cdef bint is_c_contig(Tensor t) noexcept:
    cdef int64_t expect = t.itemsize
    cdef int i
    for i in range(t.nd - 1, -1, -1):
        if t.shp[i] == 0:
            return True
        if t.shp[i] != 1 and t.strd[i] != expect:
            return False
        expect *= t.shp[i]
    return True


cdef bint is_f_contig(Tensor t) noexcept:
    cdef int64_t expect = t.itemsize
    cdef int i
    for i in range(t.nd):
        if t.shp[i] == 0:
            return True
        if t.shp[i] != 1 and t.strd[i] != expect:
            return False
        expect *= t.shp[i]
    return True


cdef tuple shape_tuple(int nd, const int64_t* shape):
    return tuple([shape[i] for i in range(nd)])


cdef Tensor new_tensor(int nd, const int64_t* shape, int dt):
    """A C-contiguous tensor with uninitialised memory from the pool."""
    if nd > MAXDIM:
        raise ValueError(
            f"fasttensor supports at most {MAXDIM} dimensions, got {nd}")
    cdef int64_t isz = _ITEMSIZE[dt]
    cdef int64_t n = 1
    cdef int i
    for i in range(nd):
        if shape[i] < 0:
            raise ValueError(
                f"negative dimensions are not allowed: {shape_tuple(nd, shape)}")
        if shape[i] != 0 and n > (<int64_t>1 << 62) // shape[i] // isz:
            n = -1
            break
        n *= shape[i]
    if n < 0:
        for i in range(nd):
            if shape[i] == 0:
                n = 0
                break
        if n < 0:
            raise ValueError(
                f"tensor is too big: shape {shape_tuple(nd, shape)} with "
                f"itemsize {isz} exceeds the address space")
    cdef Tensor t = Tensor.__new__(Tensor)
    t.base = pool_buffer(<size_t>(n * isz))
    t.data = t.base.ptr
    t.nd = nd
    t.dt = dt
    t.itemsize = isz
    cdef int64_t stride = isz
    for i in range(nd - 1, -1, -1):
        t.shp[i] = shape[i]
        t.strd[i] = stride
        stride *= shape[i] if shape[i] > 0 else 1
    return t


cdef Tensor make_view(Tensor base, char* data, int nd, const int64_t* shape,
                      const int64_t* strides):
    """A view of ``base``'s buffer with its own shape and strides."""
    if nd > MAXDIM:
        raise ValueError(
            f"fasttensor supports at most {MAXDIM} dimensions, got {nd}")
    cdef Tensor t = Tensor.__new__(Tensor)
    t.base = base.base
    t.data = data
    t.nd = nd
    t.dt = base.dt
    t.itemsize = base.itemsize
    t.readonly = base.readonly
    cdef int i
    for i in range(nd):
        t.shp[i] = shape[i]
        t.strd[i] = strides[i]
    return t


cdef Tensor wrap_ndarray(cnp.ndarray arr):
    """A tensor sharing ``arr``'s memory (no copy)."""
    cdef int dt = dt_of(arr.dtype)
    if not arr.dtype.isnative:
        arr = arr.astype(arr.dtype.newbyteorder("="))
    cdef int nd = cnp.PyArray_NDIM(arr)
    if nd > MAXDIM:
        raise ValueError(
            f"fasttensor supports at most {MAXDIM} dimensions, got {nd}")
    cdef Buffer b = Buffer.__new__(Buffer)
    b.ptr = <char*>cnp.PyArray_DATA(arr)
    b.nbytes = <size_t>cnp.PyArray_NBYTES(arr)
    b.owner = arr
    cdef Tensor t = Tensor.__new__(Tensor)
    t.base = b
    t.data = b.ptr
    t.nd = nd
    t.dt = dt
    t.itemsize = cnp.PyArray_ITEMSIZE(arr)
    t.readonly = not cnp.PyArray_ISWRITEABLE(arr)
    cdef cnp.npy_intp* dims = cnp.PyArray_DIMS(arr)
    cdef cnp.npy_intp* strides = cnp.PyArray_STRIDES(arr)
    cdef int i
    for i in range(nd):
        t.shp[i] = dims[i]
        t.strd[i] = strides[i]
    if numel(t) == 0:
        t.data = ft_empty_data
    return t


cdef object to_numpy(Tensor t):
    """A NumPy array viewing ``t``'s memory."""
    cdef object descr = _DTYPE_OF[t.dt]
    Py_INCREF(descr)  # PyArray_NewFromDescr steals a reference
    cdef int flags = 0 if t.readonly else cnp.NPY_ARRAY_WRITEABLE
    arr = PyArray_NewFromDescr(
        <PyTypeObject*>np.ndarray, <NpyDescr*>descr, t.nd,
        <cnp.npy_intp*>t.shp, <cnp.npy_intp*>t.strd, <void*>t.data, flags, NULL)
    cnp.set_array_base(arr, t)
    return arr


cdef inline int _weak_kind(object x) noexcept:
    """0, 1, 2 for a Python bool, int, float; -1 for anything else."""
    cdef type tp = type(x)
    if tp is bool:
        return 0
    if tp is int:
        return 1
    if tp is float:
        return 2
    return -1


cdef Tensor as_tensor(object x):
    """Turn ``x`` into a tensor, without copying when it already is one or
    is array memory of a supported dtype."""
    if type(x) is Tensor:
        return <Tensor>x
    return _convert(x, None, "asarray")


cdef Tensor _convert(object x, object dtype, str op):
    cdef int kind
    if isinstance(x, Tensor):
        return <Tensor>x
    if isinstance(x, np.ndarray):
        return wrap_ndarray(x)
    kind = _weak_kind(x)
    if kind >= 0 or isinstance(x, (list, tuple)):
        try:
            arr = np.asarray(x)
        except ValueError as e:
            raise ValueError(f"{op}: cannot make a tensor of {type(x).__name__}: {e}") from None
        if arr.dtype == np.float64 and dtype is None:
            arr = arr.astype(np.float32)
        elif arr.dtype.kind not in "biuf":
            raise TypeError(
                f"{op}: cannot make a tensor of {type(x).__name__} with "
                f"elements of type {arr.dtype}")
        return wrap_ndarray(arr)
    if isinstance(x, np.generic):
        return wrap_ndarray(np.asarray(x))
    if hasattr(x, "__dlpack__") and not hasattr(x, "__array_interface__"):
        return from_dlpack(x)
    try:
        arr = np.asarray(x)
    except Exception as e:
        raise _ForeignOperand(
            f"{op}: cannot make a tensor of {type(x).__name__}: {e}") from None
    if arr.dtype.kind not in "biuf":
        raise _ForeignOperand(
            f"{op}: cannot make a tensor of {type(x).__name__} "
            f"(dtype {arr.dtype})")
    return wrap_ndarray(arr)


cdef Tensor copy_tensor(Tensor t):
    """A C-contiguous copy of ``t`` in new pool memory."""
    return cast_copy(t, t.dt)


cdef Tensor cast_copy(Tensor t, int dt):
    cdef Tensor out = new_tensor(t.nd, t.shp, dt)
    copy_into(out, t)
    return out


cdef Tensor ascontig(Tensor t):
    """``t`` itself when C-contiguous, else a C-contiguous copy."""
    if is_c_contig(t):
        return t
    return copy_tensor(t)


cdef Tensor cast_to(Tensor t, int dt):
    """``t`` itself when it has dtype ``dt``, else a converted copy."""
    if t.dt == dt:
        return t
    return cast_copy(t, dt)


cdef copy_into(Tensor dst, Tensor src):
    """dst[...] = src for equal shapes, converting the dtype."""
    cdef int status
    cdef int64_t nbytes = numel(dst) * dst.itemsize
    if nbytes >= NOGIL_BYTES:
        with nogil:
            status = ew_cast(<DType>src.dt, <DType>dst.dt, dst.nd, dst.shp,
                             src.data, src.strd, dst.data, dst.strd)
    else:
        status = ew_cast(<DType>src.dt, <DType>dst.dt, dst.nd, dst.shp,
                         src.data, src.strd, dst.data, dst.strd)
    check_status(status, "copy")


cdef bint shares_buffer(Tensor a, Tensor b) noexcept:
    """True when a and b view the same buffer (and so may overlap)."""
    if a.base is b.base:
        return True
    if a.base.owner is not None and b.base.owner is not None:
        return np.shares_memory(a.base.owner, b.base.owner)
    return False


cdef assign(Tensor dst, object value, str op):
    """dst[...] = value with broadcasting and NumPy's unsafe casting."""
    cdef Tensor src
    kind = _weak_kind(value)
    if kind >= 0:
        src = scalar_tensor(value, dst.dt, op, True)
    else:
        src = _convert(value, None, op)
    if shares_buffer(src, dst):
        src = copy_tensor(src)
    src = expand_to(src, dst.nd, dst.shp, op)
    copy_into(dst, src)


cdef object _INT_LIMITS = {
    dt: (int(np.iinfo(_DTYPE_OF[dt]).min), int(np.iinfo(_DTYPE_OF[dt]).max))
    for dt in range(kNumDTypes) if _DTYPE_OF[dt] is not None
    and _DTYPE_OF[dt].kind in "iu"}


cdef Tensor scalar_tensor(object value, int dt, str op, bint unsafe=False):
    """A 0-d tensor of dtype ``dt`` holding a Python scalar.

    Python ints that do not fit an integer dtype raise OverflowError, as in
    NumPy 2.  Floats stored into an integer dtype truncate (as NumPy's
    assignment does) when ``unsafe`` is set, and raise TypeError otherwise.
    The value lives in the tensor's own small buffer, not in the pool.
    """
    cdef Buffer b = Buffer.__new__(Buffer)
    b.ptr = <char*>b.small
    cdef Tensor t = Tensor.__new__(Tensor)
    t.base = b
    t.data = b.ptr
    t.nd = 0
    t.dt = dt
    t.itemsize = _ITEMSIZE[dt]
    cdef int kind = _weak_kind(value)
    if kind < 0:
        to_numpy(t)[()] = value
        return t
    if dt == kFloat32:
        (<float*>t.data)[0] = <float>(<double>value)
    elif dt == kFloat64:
        (<double*>t.data)[0] = <double>value
    elif dt == kBool:
        (<uint8_t*>t.data)[0] = 1 if value else 0
    elif dt == kFloat16 or dt == kBFloat16:
        b.small[1] = <double>value  # rounded once, to nearest even
        ew_cast(kFloat64, <DType>dt, 0, NULL, <char*>&b.small[1], NULL,
                t.data, NULL)
    else:
        if kind == 2:
            if not unsafe:
                raise TypeError(
                    f"{op}: cannot store the float {value!r} in a tensor of "
                    f"dtype {_DTYPE_OF[dt]}")
            if value != value or value in (float("inf"), float("-inf")):
                raise ValueError(
                    f"{op}: cannot convert float {value!r} to {_DTYPE_OF[dt]}")
            value = int(value)
        lo, hi = _INT_LIMITS[dt]
        if not lo <= value <= hi:
            raise OverflowError(
                f"{op}: Python integer {value} out of bounds for {_DTYPE_OF[dt]}")
        if dt == kInt8:
            (<int8_t*>t.data)[0] = <int8_t>value
        elif dt == kInt16:
            (<int16_t*>t.data)[0] = <int16_t>value
        elif dt == kInt32:
            (<int32_t*>t.data)[0] = <int32_t>value
        elif dt == kInt64:
            (<int64_t*>t.data)[0] = <int64_t>value
        elif dt == kUInt8:
            (<uint8_t*>t.data)[0] = <uint8_t>value
        elif dt == kUInt16:
            (<uint16_t*>t.data)[0] = <uint16_t>value
        elif dt == kUInt32:
            (<uint32_t*>t.data)[0] = <uint32_t>value
        else:
            (<uint64_t*>t.data)[0] = <uint64_t>value
    return t


cdef Tensor operand(object x, int dt, str op):
    """``x`` as a tensor of dtype ``dt``: Tensors and arrays are converted,
    Python scalars become 0-d tensors (with NumPy 2's overflow check)."""
    if _weak_kind(x) >= 0:
        return scalar_tensor(x, dt, op)
    return cast_to(_convert(x, None, op), dt)


cdef int result_dt(object x1, object x2) except -1:
    """NumPy 2's result dtype for a binary op, Python scalars being weak."""
    cdef int k1 = _weak_kind(x1)
    cdef int k2 = _weak_kind(x2)
    cdef int d
    if k1 >= 0 and k2 >= 0:
        return promote((<Tensor>as_tensor(x1)).dt, (<Tensor>as_tensor(x2)).dt)
    if k1 < 0 and k2 < 0:
        return promote(_convert(x1, None, "promote").dt,
                       _convert(x2, None, "promote").dt)
    if k1 >= 0:
        d = _convert(x2, None, "promote").dt
        return _weak_promote(d, k1)
    d = _convert(x1, None, "promote").dt
    return _weak_promote(d, k2)


cdef int _weak_promote(int dt, int kind) noexcept:
    if kind == 0:  # bool scalar never changes the dtype
        return dt
    if kind == 1:  # int scalar: bool becomes int64
        return kInt64 if dt == kBool else dt
    # float scalar: bool and integers become float64
    return dt if dt_is_float(dt) else kFloat64


cdef int broadcast_shape(int nd1, const int64_t* s1, int nd2, const int64_t* s2,
                         int64_t* out, str op) except -1:
    """Broadcast two shapes into ``out``; returns the result's ndim."""
    cdef int nd = nd1 if nd1 > nd2 else nd2
    cdef int i
    cdef int64_t a, b
    if nd > MAXDIM:
        raise ValueError(f"{op}: more than {MAXDIM} dimensions")
    for i in range(nd):
        a = s1[nd1 - nd + i] if i >= nd - nd1 else 1
        b = s2[nd2 - nd + i] if i >= nd - nd2 else 1
        if a == b or b == 1:
            out[i] = a
        elif a == 1:
            out[i] = b
        else:
            raise ValueError(
                f"{op}: operands could not be broadcast together with shapes "
                f"{shape_tuple(nd1, s1)} {shape_tuple(nd2, s2)}")
    return nd


cdef Tensor expand_to(Tensor t, int nd, const int64_t* shape, str op):
    """A view of ``t`` broadcast to ``shape`` (stride 0 on new dims)."""
    cdef int64_t strides[MAXDIM]
    cdef int off = nd - t.nd
    cdef int i
    if t.nd == nd:
        for i in range(nd):
            if t.shp[i] != shape[i]:
                break
        else:
            return t
    if t.nd > nd:
        raise ValueError(
            f"{op}: cannot broadcast a tensor of shape {t.shape} to shape "
            f"{shape_tuple(nd, shape)}")
    for i in range(nd):
        if i < off:
            strides[i] = 0
        elif t.shp[i - off] == shape[i]:
            strides[i] = t.strd[i - off]
        elif t.shp[i - off] == 1:
            strides[i] = 0
        else:
            raise ValueError(
                f"{op}: cannot broadcast a tensor of shape {t.shape} to shape "
                f"{shape_tuple(nd, shape)}")
    return make_view(t, t.data, nd, shape, strides)


cdef int norm_axis(object axis, int nd, str op) except -1:
    """``axis`` as an index in [0, nd); AxisError when out of range."""
    cdef int64_t a
    try:
        a = operator.index(axis)
    except TypeError:
        raise TypeError(
            f"{op}: axis must be an integer, got {type(axis).__name__}") from None
    if a < -nd or a >= nd:
        raise AxisError(a, nd, op)
    return a + nd if a < 0 else a


cdef Tensor prepare_out(object out, int nd, const int64_t* shape, int dt, str op):
    """The output tensor: a new one, or ``out`` after checking it."""
    if out is None:
        return new_tensor(nd, shape, dt)
    if isinstance(out, tuple) and len(out) == 1:
        out = out[0]
    if not isinstance(out, Tensor):
        raise TypeError(
            f"{op}: out must be a fasttensor.Tensor, got {type(out).__name__}")
    cdef Tensor o = <Tensor>out
    if o.nd != nd or any_dim_differs(o, shape):
        raise ValueError(
            f"{op}: out has shape {o.shape}, but the result has shape "
            f"{shape_tuple(nd, shape)}")
    if o.dt != dt:
        raise TypeError(
            f"{op}: out has dtype {o.dtype}, but the result has dtype "
            f"{_DTYPE_OF[dt]}")
    if o.readonly:
        raise ValueError(f"{op}: out is read-only")
    return o


cdef bint any_dim_differs(Tensor t, const int64_t* shape) noexcept:
    cdef int i
    for i in range(t.nd):
        if t.shp[i] != shape[i]:
            return True
    return False


# ---------------------------------------------------------------- indexing

cdef object _numpy_key(object key):
    """An indexing key with any tensors in it turned into NumPy arrays."""
    if isinstance(key, Tensor):
        return to_numpy(key)
    if isinstance(key, tuple):
        return tuple([to_numpy(k) if isinstance(k, Tensor) else k for k in key])
    return key


cdef Tensor basic_index(Tensor t, object key):
    """The view ``t[key]`` for basic keys (ints, slices, None, Ellipsis);
    None when the key needs advanced indexing."""
    if not isinstance(key, tuple):
        key = (key,)
    cdef int n_real = 0
    cdef int n_ellipsis = 0
    for k in key:
        if k is None:
            continue
        if k is Ellipsis:
            n_ellipsis += 1
            continue
        if isinstance(k, slice):
            n_real += 1
            continue
        if isinstance(k, (bool, np.bool_)):
            return None
        if isinstance(k, (int, np.integer)) or (
                isinstance(k, Tensor) and (<Tensor>k).nd == 0
                and dt_is_int((<Tensor>k).dt)):
            n_real += 1
            continue
        return None
    if n_ellipsis > 1:
        raise IndexError("an index can only have a single ellipsis ('...')")
    if n_real > t.nd:
        raise IndexError(
            f"too many indices for tensor: tensor is {t.nd}-dimensional, "
            f"but {n_real} were indexed")
    cdef int64_t shape[MAXDIM]
    cdef int64_t strides[MAXDIM]
    cdef int nd = 0
    cdef int src = 0
    cdef char* data = t.data
    cdef int64_t idx, size
    cdef Py_ssize_t start, stop, step, length
    for k in key:
        if k is None:
            if nd >= MAXDIM:
                raise IndexError(f"too many dimensions (at most {MAXDIM})")
            shape[nd] = 1
            strides[nd] = 0
            nd += 1
        elif k is Ellipsis:
            for _ in range(t.nd - n_real):
                shape[nd] = t.shp[src]
                strides[nd] = t.strd[src]
                nd += 1
                src += 1
        elif isinstance(k, slice):
            size = t.shp[src]
            start, stop, step = k.indices(size)
            if step > 0:
                length = (stop - start + step - 1) // step if stop > start else 0
            else:
                length = (start - stop - step - 1) // (-step) if start > stop else 0
            if length > 0:
                data += start * t.strd[src]
            shape[nd] = length
            strides[nd] = t.strd[src] * step
            nd += 1
            src += 1
        else:
            idx = operator.index(k)
            size = t.shp[src]
            if idx < -size or idx >= size:
                raise IndexError(
                    f"index {idx} is out of bounds for axis {src} with size {size}")
            if idx < 0:
                idx += size
            data += idx * t.strd[src]
            src += 1
        if nd > MAXDIM:
            raise IndexError(f"too many dimensions (at most {MAXDIM})")
    while src < t.nd:
        shape[nd] = t.shp[src]
        strides[nd] = t.strd[src]
        nd += 1
        src += 1
    return make_view(t, data, nd, shape, strides)


# ---------------------------------------------------------------- DLPack

cdef void _dl_delete_versioned(DLManagedTensorVersioned* m) noexcept with gil:
    if Py_IsInitialized():
        Py_DECREF(<object>m.manager_ctx)
    free(m)


cdef void _dl_delete_legacy(DLManagedTensor* m) noexcept with gil:
    if Py_IsInitialized():
        Py_DECREF(<object>m.manager_ctx)
    free(m)


cdef void _dl_capsule_versioned(object cap) noexcept:
    cdef DLManagedTensorVersioned* m
    if PyCapsule_IsValid(cap, b"dltensor_versioned"):
        m = <DLManagedTensorVersioned*>PyCapsule_GetPointer(
            cap, b"dltensor_versioned")
        if m.deleter != NULL:
            m.deleter(m)


cdef void _dl_capsule_legacy(object cap) noexcept:
    cdef DLManagedTensor* m
    if PyCapsule_IsValid(cap, b"dltensor"):
        m = <DLManagedTensor*>PyCapsule_GetPointer(cap, b"dltensor")
        if m.deleter != NULL:
            m.deleter(m)


cdef DLDataType _dl_dtype(int dt):
    cdef DLDataType d
    d.lanes = 1
    d.bits = <uint8_t>(_ITEMSIZE[dt] * 8)
    if dt == kBool:
        d.code = kDLBool
    elif dt == kBFloat16:
        d.code = kDLBfloat
    elif dt_is_unsigned(dt):
        d.code = kDLUInt
    elif dt_is_int(dt):
        d.code = kDLInt
    else:
        d.code = kDLFloat
    return d


cdef void _dl_fill(DLTensor* d, Tensor t, int64_t* shape, int64_t* strides):
    cdef int i
    d.data = t.data
    d.device.device_type = kDLCPU
    d.device.device_id = 0
    d.ndim = t.nd
    d.dtype = _dl_dtype(t.dt)
    d.shape = shape
    d.strides = strides
    d.byte_offset = 0
    for i in range(t.nd):
        shape[i] = t.shp[i]
        strides[i] = t.strd[i] // t.itemsize


cdef object dlpack_export(Tensor t, bint versioned, bint copied):
    """A DLPack capsule that keeps ``t`` alive until the consumer is done."""
    cdef int i
    for i in range(t.nd):
        if t.strd[i] % t.itemsize != 0:
            t = copy_tensor(t)
            copied = True
            break
    cdef size_t extra = 2 * sizeof(int64_t) * (t.nd if t.nd > 0 else 1)
    cdef DLManagedTensorVersioned* mv
    cdef DLManagedTensor* ml
    cdef int64_t* arrays
    if versioned:
        mv = <DLManagedTensorVersioned*>malloc(
            sizeof(DLManagedTensorVersioned) + extra)
        if mv == NULL:
            raise MemoryError("__dlpack__: out of memory")
        arrays = <int64_t*>(<char*>mv + sizeof(DLManagedTensorVersioned))
        mv.version.major = FT_DLPACK_MAJOR
        mv.version.minor = FT_DLPACK_MINOR
        mv.flags = 0
        if t.readonly:
            mv.flags |= FT_DLPACK_FLAG_READ_ONLY
        if copied:
            mv.flags |= FT_DLPACK_FLAG_IS_COPIED
        _dl_fill(&mv.dl_tensor, t, arrays, arrays + (t.nd if t.nd > 0 else 1))
        Py_INCREF(t)
        mv.manager_ctx = <void*>t
        mv.deleter = _dl_delete_versioned
        return PyCapsule_New(mv, b"dltensor_versioned", _dl_capsule_versioned)
    ml = <DLManagedTensor*>malloc(sizeof(DLManagedTensor) + extra)
    if ml == NULL:
        raise MemoryError("__dlpack__: out of memory")
    arrays = <int64_t*>(<char*>ml + sizeof(DLManagedTensor))
    _dl_fill(&ml.dl_tensor, t, arrays, arrays + (t.nd if t.nd > 0 else 1))
    Py_INCREF(t)
    ml.manager_ctx = <void*>t
    ml.deleter = _dl_delete_legacy
    return PyCapsule_New(ml, b"dltensor", _dl_capsule_legacy)


cdef int _dt_from_dl(DLDataType d) except -1:
    if d.lanes != 1:
        raise BufferError(f"from_dlpack: vector dtypes (lanes={d.lanes}) are not supported")
    if d.code == kDLBool and d.bits == 8:
        return kBool
    if d.code == kDLFloat and d.bits == 16:
        return kFloat16
    if d.code == kDLBfloat and d.bits == 16:
        return kBFloat16
    if d.code == kDLFloat and d.bits == 32:
        return kFloat32
    if d.code == kDLFloat and d.bits == 64:
        return kFloat64
    if d.code == kDLInt:
        if d.bits == 8: return kInt8
        if d.bits == 16: return kInt16
        if d.bits == 32: return kInt32
        if d.bits == 64: return kInt64
    if d.code == kDLUInt:
        if d.bits == 8: return kUInt8
        if d.bits == 16: return kUInt16
        if d.bits == 32: return kUInt32
        if d.bits == 64: return kUInt64
    raise BufferError(
        f"from_dlpack: unsupported DLPack dtype (code={d.code}, bits={d.bits})")


cdef Tensor _tensor_from_dl(DLTensor* d, Buffer b, bint readonly):
    if d.device.device_type != kDLCPU:
        raise BufferError(
            f"from_dlpack: only CPU memory can be imported, got device "
            f"type {d.device.device_type}")
    if d.ndim > MAXDIM:
        raise BufferError(f"from_dlpack: more than {MAXDIM} dimensions")
    cdef int dt = _dt_from_dl(d.dtype)
    cdef Tensor t = Tensor.__new__(Tensor)
    t.base = b
    t.data = <char*>d.data + d.byte_offset
    t.nd = d.ndim
    t.dt = dt
    t.itemsize = _ITEMSIZE[dt]
    t.readonly = readonly
    cdef int i
    cdef int64_t stride = t.itemsize
    for i in range(d.ndim - 1, -1, -1):
        t.shp[i] = d.shape[i]
        if d.strides != NULL:
            t.strd[i] = d.strides[i] * t.itemsize
        else:
            t.strd[i] = stride
            stride *= d.shape[i] if d.shape[i] > 0 else 1
    b.ptr = t.data
    if numel(t) == 0:
        t.data = ft_empty_data
    return t


def from_dlpack(x, *, device=None, copy=None):
    """A tensor sharing the memory of a DLPack producer (no copy).

    Parameters
    ----------
    x : object
        Anything with ``__dlpack__`` and ``__dlpack_device__`` (a NumPy
        array, a PyTorch CPU tensor, a fasttensor Tensor), or a DLPack
        capsule.
    device : optional
        Must be None or ``"cpu"``.
    copy : bool, optional
        True always copies, False never does, None copies only if needed.

    Returns
    -------
    Tensor

    Raises
    ------
    BufferError
        For memory on another device or a dtype fasttensor lacks.
    """
    if device not in (None, "cpu"):
        raise BufferError(f"from_dlpack: unsupported device {device!r}")
    if type(x).__name__ == "PyCapsule":
        cap = x
    else:
        dev = x.__dlpack_device__()
        if int(dev[0]) != kDLCPU:
            raise BufferError(
                f"from_dlpack: only CPU memory can be imported, got device {dev}")
        try:
            cap = x.__dlpack__(max_version=(FT_DLPACK_MAJOR, FT_DLPACK_MINOR),
                               dl_device=(kDLCPU, 0), copy=copy)
        except TypeError:
            cap = x.__dlpack__()
    cdef Buffer b = Buffer.__new__(Buffer)
    cdef DLManagedTensorVersioned* mv
    cdef DLManagedTensor* ml
    cdef Tensor t
    if PyCapsule_IsValid(cap, b"dltensor_versioned"):
        mv = <DLManagedTensorVersioned*>PyCapsule_GetPointer(cap, b"dltensor_versioned")
        if mv.version.major != 1:
            raise BufferError(
                f"from_dlpack: DLPack version {mv.version.major}.{mv.version.minor} "
                "is not supported (need 1.x)")
        PyCapsule_SetName(cap, b"used_dltensor_versioned")
        b.dl_versioned = mv
        t = _tensor_from_dl(&mv.dl_tensor, b,
                            (mv.flags & FT_DLPACK_FLAG_READ_ONLY) != 0)
    elif PyCapsule_IsValid(cap, b"dltensor"):
        ml = <DLManagedTensor*>PyCapsule_GetPointer(cap, b"dltensor")
        PyCapsule_SetName(cap, b"used_dltensor")
        b.dl_legacy = ml
        t = _tensor_from_dl(&ml.dl_tensor, b, False)
    else:
        raise BufferError("from_dlpack: not a DLPack capsule (or already consumed)")
    if copy:
        return copy_tensor(t)
    return t
