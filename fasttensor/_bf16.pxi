# The bfloat16 matrix engines (src/ops/gemm_bf16.h): which one runs, and
# direct access to the engine's product for tests and benchmarks.  The
# public products reach the engine through matmul for bfloat16 operands.

cdef extern from "ops/gemm_bf16.h" namespace "ft":
    cdef enum class Bf16Engine(int):
        convert
        amx
        avx512_bf16
        amx_emulated
        avx512_bf16_emulated
    ctypedef struct Bf16Operand:
        const void* p
        bint is_f32
        int64_t rs
        int64_t cs
    const int64_t kBf16TileMinRows
    Bf16Engine ft_bf16_engine "ft::bf16_engine"() nogil
    const char* ft_bf16_engine_name "ft::bf16_engine_name"(Bf16Engine e) nogil
    int ft_set_bf16_engine "ft::set_bf16_engine"(const char* name) nogil
    const char* ft_bf16_engine_unavailable "ft::bf16_engine_unavailable"(
        const char* name) nogil
    int ft_gemm_bf16_engine "ft::gemm_bf16_engine"(
        int64_t m, int64_t n, int64_t k, Bf16Operand a, Bf16Operand b,
        float* c, int64_t rs_c, int64_t cs_c, bint accumulate) nogil
    size_t ft_bf16_engine_packed_b_bytes "ft::bf16_engine_packed_b_bytes"(
        int64_t k, int64_t n) nogil
    void ft_bf16_engine_pack_b "ft::bf16_engine_pack_b"(
        int64_t k, int64_t n, Bf16Operand b, void* dst) nogil
    int ft_gemm_bf16_engine_prepacked "ft::gemm_bf16_engine_prepacked"(
        int64_t m, int64_t n, int64_t k, Bf16Operand a, const void* packed_b,
        int64_t packed_k, float* c, int64_t rs_c, int64_t cs_c,
        bint accumulate) nogil
    double ft_bf16_engine_peak_tflops "ft::bf16_engine_peak_tflops"(
        double seconds) nogil
    int64_t ft_bf16_engine_products "ft::bf16_engine_products"() nogil
    void ft_bf16_engine_tune "ft::bf16_engine_tune"(int64_t mc,
                                                     int64_t nc) nogil

cdef extern from "kernels/amx_tiles.h" namespace "ft::amx_emu":
    int64_t ft_amx_model_faults "ft::amx_emu::model_faults"() nogil
    int ft_amx_model_tdpbf16ps "ft::amx_emu::model_tdpbf16ps"(
        int m, int n, int kp, float* c, const uint16_t* a,
        const uint16_t* b) nogil


BF16_ENGINES = ("auto", "convert", "amx", "avx512_bf16", "amx_emulated",
                "avx512_bf16_emulated")

# What show_config prints for each engine.
BF16_ENGINE_DESCRIPTION = {
    "amx": "AMX-BF16 tiles",
    "avx512_bf16": "AVX512-BF16 dot products",
    "amx_emulated": "AMX tile kernel on a software model, for tests",
    "avx512_bf16_emulated": "AVX512-BF16 kernel on a software model, for "
                            "tests",
    "convert": "float32 kernels",
}


def _bf16_engine():
    """The name of the engine bfloat16 products run on: 'amx',
    'avx512_bf16', 'amx_emulated', 'avx512_bf16_emulated' or 'convert'
    (float32 kernels)."""
    return ft_bf16_engine_name(ft_bf16_engine()).decode()


def _set_bf16_engine(name):
    """Choose the bfloat16 matrix engine by name.

    Parameters
    ----------
    name : str
        'auto' (the best one this CPU, OS and active ISA allow), 'convert',
        'amx', 'avx512_bf16', 'amx_emulated' or 'avx512_bf16_emulated'
        (the AMX or AVX512-BF16 kernel on a software model of its
        instructions: any CPU, slow, for tests).

    Raises
    ------
    ValueError
        If the name is not one of these.
    RuntimeError
        If the engine cannot run here; the message says why.

    Examples
    --------
    >>> _C._set_bf16_engine("amx_emulated")
    >>> _C._bf16_engine()
    'amx_emulated'
    >>> _C._set_bf16_engine("auto")
    """
    if not isinstance(name, str):
        raise TypeError(f"_set_bf16_engine: name must be a str, got "
                        f"{type(name).__name__}")
    cdef bytes bname = name.encode()
    cdef int status = ft_set_bf16_engine(bname)
    if status == 1:
        raise ValueError(
            f"_set_bf16_engine: unknown engine {name!r}; expected one of "
            f"{', '.join(repr(e) for e in BF16_ENGINES)}")
    if status == 2:
        why = ft_bf16_engine_unavailable(bname)
        raise RuntimeError(f"_set_bf16_engine: {name!r} cannot run here: "
                           f"{why.decode() if why != NULL else 'unavailable'}")


def _bf16_engine_tune(mc=0, nc=0):
    """Set the tile engines' cache blocks (rows, columns of C; rounded up
    to 32); 0 restores the default.  Tests use it to cross block edges on
    small products."""
    ft_bf16_engine_tune(operator.index(mc), operator.index(nc))


def _bf16_engine_peak_tflops(seconds=0.1):
    """TDPBF16PS or VDPBF16PS rate of the current engine on one core, in
    TFLOP/s (0 for 'convert'; for the emulated engines the rate of the
    software model)."""
    cdef double s = seconds
    cdef double r
    with nogil:
        r = ft_bf16_engine_peak_tflops(s)
    return r


def _bf16_engine_products():
    """Products the bfloat16 matrix engines have computed in this process
    (a bfloat16 attention counts two per key block)."""
    return ft_bf16_engine_products()


def _amx_model_faults():
    """Instructions the AMX software model refused so far (0 unless the
    tile kernel misuses a tile)."""
    return ft_amx_model_faults()


def _amx_model_tdpbf16ps(c, a_bits, b_bits):
    """One TDPBF16PS on the software model.

    Parameters
    ----------
    c : numpy.ndarray
        float32, (m, n), m <= 16, n <= 16: the accumulator.
    a_bits : numpy.ndarray
        uint16 bfloat16 bits, (m, 2 * kp), kp <= 16.
    b_bits : numpy.ndarray
        uint16 bfloat16 bits, (kp, 2 * n): B in VNNI pairs.

    Returns
    -------
    numpy.ndarray
        The new accumulator (float32, (m, n)).
    """
    c_arr = np.ascontiguousarray(c, dtype=np.float32).copy()
    a_arr = np.ascontiguousarray(a_bits, dtype=np.uint16)
    b_arr = np.ascontiguousarray(b_bits, dtype=np.uint16)
    if c_arr.ndim != 2 or a_arr.ndim != 2 or b_arr.ndim != 2:
        raise ValueError("_amx_model_tdpbf16ps: operands must be 2-D")
    mm, nn = c_arr.shape
    kk = b_arr.shape[0]
    if (a_arr.shape != (mm, 2 * kk) or b_arr.shape[1] != 2 * nn
            or not (1 <= mm <= 16 and 1 <= nn <= 16 and 1 <= kk <= 16)):
        raise ValueError(
            f"_amx_model_tdpbf16ps: shapes c={c_arr.shape}, "
            f"a={a_arr.shape}, b={b_arr.shape} do not form one tile "
            f"product (c (m, n), a (m, 2kp), b (kp, 2n), m, n, kp <= 16)")
    cdef cnp.ndarray cc = c_arr
    cdef cnp.ndarray aa = a_arr
    cdef cnp.ndarray bb = b_arr
    cdef int m = mm, n = nn, kp = kk
    if ft_amx_model_tdpbf16ps(m, n, kp, <float*>cc.data,
                              <const uint16_t*>aa.data,
                              <const uint16_t*>bb.data):
        raise RuntimeError("_amx_model_tdpbf16ps: the model faulted")
    return cc


cdef Bf16Operand _bf16_operand(Tensor t):
    cdef Bf16Operand o
    o.p = t.data
    o.is_f32 = t.dt == kFloat32
    o.rs = t.strd[0] // t.itemsize
    o.cs = t.strd[1] // t.itemsize
    return o


cdef Tensor _bf16_engine_input(object x, str what):
    cdef Tensor t = as_tensor(x)
    if t.dt != kBFloat16 and t.dt != kFloat32:
        raise TypeError(f"bf16_engine_matmul: {what} must be bfloat16 or "
                        f"float32, got {t.dtype}")
    if t.nd != 2:
        raise ValueError(f"bf16_engine_matmul: {what} must be 2-D, got "
                         f"shape {t.shape}")
    if not _strides_in_elements(t):
        t = copy_tensor(t)
    return t


def _bf16_engine_matmul(a, b, accumulate_into=None, prepacked=False):
    """C = A @ B (or C += A @ B) on the current bfloat16 matrix engine.

    Parameters
    ----------
    a : Tensor
        (m, k), bfloat16 or float32 (rounded to bfloat16 while packing),
        any strides.
    b : Tensor
        (k, n), bfloat16 or float32, any strides.
    accumulate_into : Tensor, optional
        float32 (m, n), any strides: the product is added to it in place
        and it is returned.
    prepacked : bool, optional
        Pack B first with bf16_engine_pack_b and multiply with the
        prepacked product (the path for weights).

    Returns
    -------
    Tensor
        float32 (m, n).

    Raises
    ------
    TypeError
        If an operand is not bfloat16 or float32, or accumulate_into is
        not float32.
    ValueError
        If an operand is not 2-D, the inner dimensions differ, or
        accumulate_into has the wrong shape or is read-only.
    RuntimeError
        If the current engine is 'convert' (no matrix engine).

    Examples
    --------
    >>> _C._set_bf16_engine("amx_emulated")
    >>> c = _C._bf16_engine_matmul(ft.ones((2, 3), dtype=ft.bfloat16),
    ...                            ft.ones((3, 4), dtype=ft.bfloat16))
    >>> c.shape, c.dtype
    ((2, 4), dtype('float32'))
    """
    cdef Tensor ta = _bf16_engine_input(a, "a")
    cdef Tensor tb = _bf16_engine_input(b, "b")
    if ta.shp[1] != tb.shp[0]:
        raise ValueError(
            f"bf16_engine_matmul: inner dimensions differ (a.shape="
            f"{ta.shape}, b.shape={tb.shape}: {ta.shp[1]} != {tb.shp[0]})")
    cdef int64_t m = ta.shp[0], k = ta.shp[1], n = tb.shp[1]
    cdef Tensor c
    cdef bint acc = accumulate_into is not None
    cdef int64_t dims[2]
    if acc:
        if not isinstance(accumulate_into, Tensor):
            raise TypeError(
                f"bf16_engine_matmul: accumulate_into must be a fasttensor "
                f"Tensor, got {type(accumulate_into).__name__}")
        c = <Tensor>accumulate_into
        if c.dt != kFloat32:
            raise TypeError(f"bf16_engine_matmul: accumulate_into must be "
                            f"float32, got {c.dtype}")
        if c.nd != 2 or c.shp[0] != m or c.shp[1] != n:
            raise ValueError(
                f"bf16_engine_matmul: accumulate_into.shape={c.shape}, "
                f"expected {(m, n)} for a.shape={ta.shape}, "
                f"b.shape={tb.shape}")
        if c.readonly:
            raise ValueError("bf16_engine_matmul: accumulate_into is "
                             "read-only")
        if shares_buffer(c, ta) or shares_buffer(c, tb):
            raise ValueError("bf16_engine_matmul: accumulate_into shares "
                             "memory with an operand")
        if not _strides_in_elements(c):
            raise ValueError(
                f"bf16_engine_matmul: accumulate_into strides {c.strides} "
                f"are not whole float32 elements")
    else:
        dims[0] = m
        dims[1] = n
        c = new_tensor(2, dims, kFloat32)
    if ft_bf16_engine() == Bf16Engine.convert:
        raise RuntimeError(
            "bf16_engine_matmul: the bfloat16 engine is 'convert' (no "
            "matrix engine runs here); choose one with _set_bf16_engine")
    cdef Bf16Operand oa = _bf16_operand(ta)
    cdef Bf16Operand ob = _bf16_operand(tb)
    cdef float* pc = <float*>c.data
    cdef int64_t rs_c = c.strd[0] // 4, cs_c = c.strd[1] // 4
    cdef int status
    cdef size_t nbytes
    cdef void* packed = NULL
    if prepacked:
        nbytes = ft_bf16_engine_packed_b_bytes(k, n)
        if nbytes:
            packed = malloc(nbytes)
            if packed == NULL:
                raise MemoryError(f"bf16_engine_matmul: cannot allocate "
                                  f"{nbytes} bytes for the packed B")
        with nogil:
            ft_bf16_engine_pack_b(k, n, ob, packed)
            status = ft_gemm_bf16_engine_prepacked(
                m, n, k, oa, packed, k, pc, rs_c, cs_c, acc)
        free(packed)
    else:
        with nogil:
            status = ft_gemm_bf16_engine(m, n, k, oa, ob, pc, rs_c, cs_c, acc)
    check_status(status, "bf16_engine_matmul")
    return c


# ------------------------------------------------ prepacked linear weights

cdef tuple _bf16_engine_pack_weight(Tensor w):
    """(engine code, panels) of a bfloat16 weight (out_features x
    in_features) packed as the B = weight.T of the engine that runs now;
    (-1, None) when no engine runs."""
    cdef Bf16Engine e = ft_bf16_engine()
    if e == Bf16Engine.convert:
        return -1, None
    cdef int64_t nout = w.shp[0], kin = w.shp[1]
    cdef int64_t count = <int64_t>ft_bf16_engine_packed_b_bytes(kin, nout)
    cdef Tensor panels = new_tensor(1, &count, kUInt8)
    cdef Bf16Operand ob
    ob.p = w.data
    ob.is_f32 = False
    ob.rs = _estride(w, 1)
    ob.cs = _estride(w, 0)
    with nogil:
        ft_bf16_engine_pack_b(kin, nout, ob, panels.data)
    return <int>e, panels


cdef bint _bf16_engine_linear(object packed, Tensor xt, int64_t mrows,
                              int64_t rs_x, Tensor c, bint acc) except -1:
    """C (mrows x out_features, float32) (+)= x @ weight.T from the engine
    panels of ``packed``; False (nothing done) when the engine that runs
    now is not the one that packed them, or x is neither bfloat16 nor
    float32."""
    if packed._engine_panels is None or <int>ft_bf16_engine() != packed._engine:
        return False
    if xt.dt != kBFloat16 and xt.dt != kFloat32:
        return False
    cdef Tensor panels = packed._engine_panels
    cdef Tensor w = packed.weight
    cdef int64_t nout = w.shp[0], kin = w.shp[1]
    cdef Bf16Operand oa
    oa.p = xt.data
    oa.is_f32 = xt.dt == kFloat32
    oa.rs = rs_x
    oa.cs = _estride(xt, xt.nd - 1)
    cdef int status
    with nogil:
        status = ft_gemm_bf16_engine_prepacked(
            mrows, nout, kin, oa, panels.data, kin, <float*>c.data, nout, 1,
            acc)
    check_status(status, "linear")
    return True
