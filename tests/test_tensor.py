"""The Tensor type: creation, conversion, views, indexing and protocols,
checked against NumPy on the same inputs."""

import array
import pickle

import ml_dtypes
import numpy as np
import pytest

import fasttensor as ft

AxisError = np.exceptions.AxisError

ALL_DTYPES = [np.bool_, np.int8, np.int16, np.int32, np.int64, np.uint8,
              np.uint16, np.uint32, np.uint64, np.float32, np.float64]


def sample(shape, dtype, rng):
    dtype = np.dtype(dtype)
    if dtype == np.bool_:
        return rng.random(shape) > 0.5
    if dtype.kind in "iu":
        return rng.integers(0, 100, size=shape).astype(dtype)
    return rng.standard_normal(shape).astype(dtype)


# ---------------------------------------------------------------- creation

class TestCreation:
    def test_default_dtypes_follow_pytorch(self):
        assert ft.asarray(1.5).dtype == np.float32
        assert ft.asarray([1.0, 2.0]).dtype == np.float32
        assert ft.asarray([[1, 2], [3, 4]]).dtype == np.int64
        assert ft.asarray([True, False]).dtype == np.bool_
        assert ft.tensor([2.0, 3.0, 4.0]).dtype == np.float32
        assert ft.zeros(3).dtype == np.float32

    def test_numpy_arrays_keep_their_dtype(self, rng):
        for dtype in ALL_DTYPES:
            a = sample((3, 4), dtype, rng)
            t = ft.asarray(a)
            assert t.dtype == a.dtype
            np.testing.assert_array_equal(np.asarray(t), a)

    def test_seed_examples(self):
        scalar = ft.tensor(5)
        vector = ft.tensor([1, 2, 3])
        matrix = ft.tensor([[1, 2], [3, 4]])
        assert (scalar.ndim, vector.ndim, matrix.ndim) == (0, 1, 2)
        assert scalar.item() == 5
        assert matrix.tolist() == [[1, 2], [3, 4]]

    def test_asarray_shares_numpy_memory(self):
        a = np.arange(12, dtype=np.float32).reshape(3, 4)
        t = ft.asarray(a)
        a[1, 2] = 100.0
        assert t[1, 2].item() == 100.0
        back = np.asarray(t)
        assert np.shares_memory(a, back)

    def test_asarray_copy_semantics(self):
        a = np.arange(6.0)
        assert not np.shares_memory(np.asarray(ft.asarray(a, copy=True)), a)
        t = ft.asarray(a, copy=False)
        assert np.shares_memory(np.asarray(t), a)
        with pytest.raises(ValueError, match="copy=False"):
            ft.asarray(a, dtype=np.float32, copy=False)
        converted = ft.asarray(a, dtype=np.int32)
        assert converted.dtype == np.int32
        np.testing.assert_array_equal(np.asarray(converted), a.astype(np.int32))

    def test_tensor_always_copies(self):
        a = np.ones(4)
        t = ft.tensor(a)
        a[0] = 7
        assert t[0].item() == 1.0
        assert t.dtype == np.float64

    def test_from_numpy_shares_both_ways(self):
        a = np.zeros((2, 3), dtype=np.int16)
        t = ft.from_numpy(a)
        t[0, 1] = 9
        assert a[0, 1] == 9
        with pytest.raises(TypeError, match="from_numpy"):
            ft.from_numpy([1, 2])

    @pytest.mark.parametrize("bad", [[1 + 2j], np.array(["a", "b"]),
                                     np.array([object()]), [1, "x"]])
    def test_unsupported_dtypes_raise_type_error(self, bad):
        with pytest.raises(TypeError):
            ft.asarray(bad)

    def test_ragged_list_raises_value_error(self):
        with pytest.raises(ValueError, match="asarray"):
            ft.asarray([[1, 2], [3]])

    def test_buffer_objects(self):
        t = ft.asarray(array.array("d", [1.0, 2.0, 3.0]))
        assert t.dtype == np.float64
        assert t.tolist() == [1.0, 2.0, 3.0]
        t = ft.asarray(memoryview(b"\x01\x02"))
        assert t.dtype == np.uint8 and t.tolist() == [1, 2]

    @pytest.mark.parametrize("shape", [(), (0,), (3,), (2, 0, 4), (2, 3, 4)])
    @pytest.mark.parametrize("dtype", [None, np.int32, np.float64, np.bool_])
    def test_fill_functions(self, shape, dtype):
        want = np.dtype(np.float32 if dtype is None else dtype)
        for ours, theirs in [(ft.zeros, np.zeros), (ft.ones, np.ones)]:
            t = ours(shape, dtype=dtype)
            assert t.dtype == want and t.shape == shape
            np.testing.assert_array_equal(np.asarray(t), theirs(shape, want))
        t = ft.full(shape, 3, dtype=dtype)
        np.testing.assert_array_equal(np.asarray(t), np.full(shape, 3, want))
        assert ft.empty(shape, dtype=dtype).shape == shape

    def test_shape_argument_forms(self):
        assert ft.zeros(2, 3).shape == (2, 3)
        assert ft.zeros((2, 3)).shape == (2, 3)
        assert ft.zeros([2, 3]).shape == (2, 3)
        assert ft.ones(np.int64(4)).shape == (4,)

    def test_full_infers_dtype(self):
        assert ft.full((2,), 1.5).dtype == np.float32
        assert ft.full((2,), 7).dtype == np.int64
        assert ft.full((2,), True).dtype == np.bool_

    def test_like_functions(self, rng):
        x = ft.asarray(sample((2, 5), np.int16, rng))
        assert ft.zeros_like(x).dtype == np.int16
        assert ft.ones_like(x, dtype=ft.float64).dtype == np.float64
        np.testing.assert_array_equal(np.asarray(ft.full_like(x, 4)), np.full((2, 5), 4))
        assert ft.empty_like(x).shape == (2, 5)

    def test_bad_shapes(self):
        with pytest.raises(ValueError, match="negative dimensions"):
            ft.zeros((2, -1))
        with pytest.raises(ValueError, match="too big"):
            ft.empty((2**40, 2**40))
        with pytest.raises(TypeError, match="shape"):
            ft.zeros(2.5)
        with pytest.raises(ValueError, match="at most"):
            ft.zeros((1,) * 40)

    def test_arange_linspace_eye(self):
        np.testing.assert_array_equal(np.asarray(ft.arange(5)), np.arange(5))
        assert ft.arange(5).dtype == np.int64
        t = ft.arange(0.0, 1.0, 0.125)
        assert t.dtype == np.float32
        np.testing.assert_allclose(np.asarray(t), np.arange(0.0, 1.0, 0.125))
        np.testing.assert_array_equal(np.asarray(ft.arange(10, 0, -3)),
                                      np.arange(10, 0, -3))
        np.testing.assert_allclose(np.asarray(ft.linspace(-1, 1, 7)),
                                   np.linspace(-1, 1, 7), rtol=1e-7)
        np.testing.assert_array_equal(np.asarray(ft.eye(3, 4, k=1)), np.eye(3, 4, 1))
        with pytest.raises(ValueError, match="step"):
            ft.arange(0, 5, 0)

    def test_random(self):
        ft.manual_seed(7)
        a = ft.randn(200_000)
        ft.manual_seed(7)
        b = ft.randn(200_000)
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
        assert a.dtype == np.float32
        x = np.asarray(a, dtype=np.float64)
        assert abs(x.mean()) < 0.01 and abs(x.std() - 1.0) < 0.01
        u = np.asarray(ft.rand(100_000, dtype=ft.float64))
        assert u.min() >= 0.0 and u.max() < 1.0 and abs(u.mean() - 0.5) < 0.01
        assert ft.randn(10, 5, 5, 3).shape == (10, 5, 5, 3)
        with pytest.raises(TypeError, match="randn"):
            ft.randn(3, dtype=ft.int32)


# ---------------------------------------------------------------- attributes

class TestAttributes:
    def test_attributes_match_numpy(self, rng):
        a = sample((3, 4, 5), np.float64, rng)[:, ::2, 1:]
        t = ft.asarray(a)
        assert t.shape == a.shape and t.strides == a.strides
        assert t.ndim == a.ndim and t.size == a.size
        assert t.itemsize == a.itemsize and t.nbytes == a.nbytes
        assert t.device == "cpu"
        assert not t.is_contiguous()
        assert ft.asarray(np.ones((2, 2))).is_contiguous()

    def test_T_and_mT(self, rng):
        a = sample((2, 3, 4), np.float32, rng)
        t = ft.asarray(a)
        np.testing.assert_array_equal(np.asarray(t.T), a.T)
        np.testing.assert_array_equal(np.asarray(t.mT), np.swapaxes(a, -1, -2))
        with pytest.raises(ValueError, match="mT"):
            ft.arange(3).mT

    def test_scalar_conversions(self):
        t = ft.tensor([[3.5]])
        assert float(t) == 3.5 and int(t) == 3 and bool(t)
        assert t.item() == 3.5
        assert [10, 20, 30][ft.tensor(1)] == 20
        with pytest.raises(ValueError, match="ambiguous"):
            bool(ft.ones(2))
        with pytest.raises(TypeError):
            float(ft.ones(2))
        with pytest.raises(TypeError, match="index"):
            [1, 2][ft.tensor(1.0)]
        with pytest.raises(ValueError, match="size 1"):
            ft.ones(3).item()
        with pytest.raises(TypeError, match="unsized"):
            len(ft.tensor(1.0))
        assert len(ft.ones((4, 2))) == 4

    def test_repr_and_str(self):
        assert repr(ft.tensor([1.0, 2.0])) == "tensor([1., 2.])"
        assert repr(ft.tensor([1, 2], dtype=ft.int32)) == "tensor([1, 2], dtype=int32)"
        assert str(ft.tensor([[1, 2], [3, 4]])) == str(np.array([[1, 2], [3, 4]]))
        assert "\n        [" in repr(ft.ones((2, 2)))

    def test_direct_construction_is_refused(self):
        with pytest.raises(TypeError, match="asarray"):
            ft.Tensor()

    def test_pickle_round_trip(self, rng):
        t = ft.asarray(sample((3, 2), np.int32, rng))
        u = pickle.loads(pickle.dumps(t))
        np.testing.assert_array_equal(np.asarray(u), np.asarray(t))
        assert u.dtype == t.dtype


# ---------------------------------------------------------------- indexing

BASIC_KEYS = [
    0, -1, 2, (1, 2), (slice(None), 1), slice(1, None), slice(None, None, -1),
    slice(5, 0, -2), (Ellipsis, 0), (None, 1), (0, None, slice(None, None, 3)),
    (slice(1, 3), Ellipsis, None), (Ellipsis,), (), (slice(10, 20),),
    (slice(None), slice(None), slice(None, None, -2)), (-2, -3, -4),
    (slice(-100, 100), None, Ellipsis, None),
]


class TestIndexing:
    @pytest.mark.parametrize("key", BASIC_KEYS, ids=repr)
    def test_basic_keys_are_views_matching_numpy(self, key, rng):
        a = sample((4, 5, 6), np.float32, rng)
        t = ft.asarray(a)
        got = t[key]
        want = a[key]
        assert got.shape == np.shape(want)
        np.testing.assert_array_equal(np.asarray(got), want)
        if got.size:
            assert np.shares_memory(np.asarray(got), a)

    def test_out_of_range_and_too_many(self):
        t = ft.zeros((3, 4))
        with pytest.raises(IndexError, match="index 3 is out of bounds for axis 0 with size 3"):
            t[3]
        with pytest.raises(IndexError, match="index -5"):
            t[:, -5]
        with pytest.raises(IndexError, match="too many indices"):
            t[0, 0, 0]
        with pytest.raises(IndexError, match="ellipsis"):
            t[..., ...]

    def test_advanced_keys_follow_numpy(self, rng):
        a = sample((5, 4), np.float64, rng)
        t = ft.asarray(a)
        mask = a > 0
        np.testing.assert_array_equal(np.asarray(t[mask]), a[mask])
        np.testing.assert_array_equal(np.asarray(t[[0, 2, 4]]), a[[0, 2, 4]])
        np.testing.assert_array_equal(np.asarray(t[ft.asarray(mask)]), a[mask])
        t[ft.asarray(mask)] = 0.0
        a[mask] = 0.0
        np.testing.assert_array_equal(np.asarray(t), a)

    def test_setitem_broadcasts_and_casts(self, rng):
        a = np.zeros((3, 4, 5), dtype=np.int32)
        t = ft.zeros((3, 4, 5), dtype=ft.int32)
        for key, value in [((0,), 7), ((slice(None), 1), np.arange(5)),
                           ((Ellipsis, 2), np.ones((3, 1)) * 2.7),
                           ((1, slice(None, None, -1)), np.arange(20).reshape(4, 5))]:
            a[key] = value
            t[key] = value
            np.testing.assert_array_equal(np.asarray(t), a)
        with pytest.raises(ValueError, match="broadcast"):
            t[0] = np.ones(3)

    def test_setitem_with_overlapping_source(self):
        a = np.arange(10.0)
        t = ft.asarray(a.copy())
        a[1:] = a[:-1]
        t[1:] = t[:-1]
        np.testing.assert_array_equal(np.asarray(t), a)

    def test_read_only_memory_is_respected(self):
        a = np.arange(4.0)
        a.flags.writeable = False
        t = ft.asarray(a)
        assert t.is_readonly
        with pytest.raises(ValueError, match="read-only"):
            t[0] = 1.0
        assert not np.asarray(t).flags.writeable
        assert memoryview(t).readonly
        with pytest.raises(TypeError, match="read-only"):
            memoryview(t).cast("B")[0:1] = b"\x00"
        import ctypes
        with pytest.raises((BufferError, TypeError)):
            (ctypes.c_char * 8).from_buffer(t)  # asks for a writable buffer
        with pytest.raises(ValueError, match="read-only"):
            ft.broadcast_to(ft.ones(3), (2, 3))[0] = 2.0


# ---------------------------------------------------------------- protocols

def get_buffer(obj, flags):
    """Call PyObject_GetBuffer with explicit flags; returns view.len."""
    import ctypes

    class PyBuffer(ctypes.Structure):
        _fields_ = [("buf", ctypes.c_void_p), ("obj", ctypes.c_void_p),
                    ("len", ctypes.c_ssize_t), ("itemsize", ctypes.c_ssize_t),
                    ("readonly", ctypes.c_int), ("ndim", ctypes.c_int),
                    ("format", ctypes.c_char_p), ("shape", ctypes.c_void_p),
                    ("strides", ctypes.c_void_p), ("suboffsets", ctypes.c_void_p),
                    ("internal", ctypes.c_void_p)]

    api = ctypes.pythonapi
    api.PyObject_GetBuffer.argtypes = [ctypes.py_object, ctypes.POINTER(PyBuffer),
                                       ctypes.c_int]
    api.PyBuffer_Release.argtypes = [ctypes.POINTER(PyBuffer)]
    view = PyBuffer()
    api.PyObject_GetBuffer(obj, ctypes.byref(view), flags)
    length = view.len
    api.PyBuffer_Release(ctypes.byref(view))
    return length


class TestProtocols:
    def test_buffer_protocol(self, rng):
        a = sample((3, 4), np.int32, rng)
        t = ft.asarray(a)
        m = memoryview(t)
        assert m.format == "i" and m.shape == (3, 4) and m.strides == (16, 4)
        assert m.tolist() == a.tolist()
        view = t[:, ::2]
        m2 = memoryview(view)
        assert m2.strides == (16, 8)
        with pytest.raises(BufferError, match="C-contiguous"):
            get_buffer(view, 0x20 | 0x18)  # PyBUF_C_CONTIGUOUS
        with pytest.raises(BufferError, match="strides"):
            get_buffer(view, 0x8)  # PyBUF_ND without strides
        assert get_buffer(t, 0x20 | 0x18) == 48

    def test_array_protocol_and_copy_keyword(self):
        t = ft.arange(6)
        a = np.asarray(t)
        assert np.shares_memory(a, np.asarray(t))
        assert not np.shares_memory(np.array(t), a)
        assert np.asarray(t, dtype=np.float64).dtype == np.float64
        with pytest.raises(ValueError):
            np.array(t, dtype=np.float32, copy=False)

    def test_dlpack_with_numpy_both_ways(self, rng):
        a = sample((4, 6), np.float32, rng)[::2, 1::2]
        t = ft.from_dlpack(a)
        np.testing.assert_array_equal(np.asarray(t), a)
        assert np.shares_memory(np.asarray(t), a)
        back = np.from_dlpack(t)
        np.testing.assert_array_equal(back, a)
        assert np.shares_memory(back, a)
        for dtype in ALL_DTYPES:
            x = sample((5,), dtype, rng)
            np.testing.assert_array_equal(np.from_dlpack(ft.asarray(x)), x)
            np.testing.assert_array_equal(np.asarray(ft.from_dlpack(x)), x)

    def test_dlpack_keeps_the_producer_alive(self):
        t = ft.arange(1000, dtype=ft.float64)
        cap = t.__dlpack__(max_version=(1, 0))
        del t
        u = ft.from_dlpack(cap)
        np.testing.assert_array_equal(np.asarray(u), np.arange(1000.0))
        with pytest.raises(BufferError, match="consumed"):
            ft.from_dlpack(cap)

    def test_dlpack_errors(self):
        t = ft.ones(3)
        with pytest.raises(BufferError, match="device"):
            t.__dlpack__(dl_device=(2, 0))
        with pytest.raises(BufferError, match="stream"):
            t.__dlpack__(stream=1)
        ro = ft.broadcast_to(ft.ones(3), (2, 3))
        with pytest.raises(BufferError, match="read-only"):
            ro.__dlpack__()
        assert t.__dlpack_device__() == (1, 0)

    def test_dlpack_with_torch(self):
        torch = pytest.importorskip("torch")
        x = torch.arange(12, dtype=torch.float32).reshape(3, 4).t()
        t = ft.from_dlpack(x)
        np.testing.assert_array_equal(np.asarray(t), x.numpy())
        y = torch.from_dlpack(ft.arange(6, dtype=ft.float64))
        assert y.tolist() == list(range(6))

    def test_array_namespace(self):
        assert ft.ones(2).__array_namespace__() is ft


# ---------------------------------------------------------------- dtype conversion

@pytest.mark.parametrize("src", ALL_DTYPES)
@pytest.mark.parametrize("dst", ALL_DTYPES)
def test_astype_matches_numpy(src, dst, rng):
    a = sample((7, 9), src, rng)[:, ::2]
    got = ft.asarray(a).astype(dst)
    assert got.dtype == np.dtype(dst)
    np.testing.assert_array_equal(np.asarray(got), a.astype(dst))


@pytest.mark.parametrize("nthreads", [1, 2, 3])
def test_large_casts_copies_and_fills_split_over_threads(nthreads, threads,
                                                         rng):
    # Over 1 MiB of destination: the threads split the outer rows, or,
    # with fewer rows than threads, the runs themselves into pieces.
    ft.set_num_threads(nthreads)
    n = (1 << 20) + 37
    base = rng.standard_normal((2, 2 * n)).astype(np.float32)
    views = [base[0],                    # one contiguous run
             base[:1, ::2],              # one strided run
             base[:, 3:n + 3],           # two runs, fewer than 3 threads
             base.T[5:n, :]]             # column pairs: many short runs
    for a in views:
        t = ft.asarray(a)
        for dt in (ml_dtypes.bfloat16, np.float16, np.float64, np.int32,
                   np.float32):
            got = t.astype(dt)
            want = a.astype(dt)
            assert got.dtype == np.dtype(dt)
            np.testing.assert_array_equal(
                np.ascontiguousarray(np.asarray(got)).view(np.uint8),
                np.ascontiguousarray(want).view(np.uint8))
        np.testing.assert_array_equal(np.asarray(t.copy()), a)
    np.testing.assert_array_equal(
        np.asarray(ft.asarray(base.astype(ml_dtypes.bfloat16)[0])
                   .astype(np.float32)),
        base[0].astype(ml_dtypes.bfloat16).astype(np.float32))
    full = ft.full((3, n), 2.5, dtype=ft.bfloat16)
    assert (np.asarray(full).astype(np.float32) == 2.5).all()
    z = ft.ones((1, 2 * n))[:, ::2]
    z[...] = 0
    assert not np.asarray(z).any()


def test_astype_without_copy_returns_self():
    t = ft.ones(3)
    assert t.astype(ft.float32, copy=False) is t
    assert t.astype(ft.float32) is not t
    with pytest.raises(TypeError, match="dtype"):
        t.astype(np.complex64)


# ---------------------------------------------------------------- Python scalars

class TestPythonScalars:
    def test_weak_scalars_keep_the_tensor_dtype(self):
        t = ft.ones(3)
        assert (t * 2.0).dtype == np.float32
        assert (ft.ones(3, dtype=ft.int8) + 1).dtype == np.int8
        assert (ft.ones(3, dtype=ft.int8) + 1.5).dtype == np.float64
        assert (ft.ones(3, dtype=ft.bool_) + 1).dtype == np.int64

    def test_out_of_range_ints_overflow_as_in_numpy(self):
        with pytest.raises(OverflowError, match="300 out of bounds for uint8"):
            ft.ones(3, dtype=ft.uint8) + 300
        with pytest.raises(OverflowError, match="-1 out of bounds for uint8"):
            ft.full(2, -1, dtype=ft.uint8)
        t = ft.zeros(2, dtype=ft.uint8)
        with pytest.raises(OverflowError):
            t[0] = 256

    def test_assignment_truncates_floats_into_ints(self):
        t = ft.zeros(3, dtype=ft.int32)
        a = np.zeros(3, dtype=np.int32)
        t[0], a[0] = 2.7, 2.7
        t[1], a[1] = -2.7, -2.7
        np.testing.assert_array_equal(np.asarray(t), a)
        with pytest.raises(ValueError, match="nan"):
            t[2] = float("nan")

    @pytest.mark.parametrize("dtype", [np.int8, np.uint8, np.int32, np.uint64, np.bool_])
    def test_invert_matches_numpy(self, dtype, rng):
        a = sample((10,), dtype, rng)
        np.testing.assert_array_equal(np.asarray(~ft.asarray(a)), ~a)

    def test_invert_of_floats_is_a_type_error(self):
        with pytest.raises(TypeError, match="invert"):
            ~ft.ones(2)
