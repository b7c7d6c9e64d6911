"""The C interface for embedding packages, called through ctypes exactly as
a C extension would call it (the struct layout of fasttensor.h)."""

import ctypes
import os

import numpy as np
import pytest

import fasttensor as ft

i64 = ctypes.c_int64
vp = ctypes.c_void_p
p64 = ctypes.POINTER(ctypes.c_int64)


class FtCapi(ctypes.Structure):
    _fields_ = [
        ("version", ctypes.c_int),
        ("active_isa", ctypes.CFUNCTYPE(ctypes.c_char_p)),
        ("pool_alloc", ctypes.CFUNCTYPE(vp, ctypes.c_size_t)),
        ("pool_free", ctypes.CFUNCTYPE(None, vp, ctypes.c_size_t)),
        ("cast", ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_int, ctypes.c_int,
                                  ctypes.c_int, p64, vp, p64, vp, p64)),
        ("gemm", ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_int, i64, i64, i64,
                                  vp, i64, i64, vp, i64, i64, vp, i64, i64,
                                  ctypes.c_int)),
        ("dot", ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_int, i64, vp, i64,
                                 vp, i64, vp)),
        ("softmax", ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_int, ctypes.c_int,
                                     ctypes.c_int, p64, ctypes.c_int, vp, p64,
                                     vp, p64)),
    ]


FT_FLOAT32, FT_FLOAT64, FT_INT32 = 11, 12, 3


@pytest.fixture(scope="module")
def api():
    get = ctypes.pythonapi.PyCapsule_GetPointer
    get.restype = vp
    get.argtypes = [ctypes.py_object, ctypes.c_char_p]
    ptr = get(ft._C._capi, b"fasttensor._C._capi")
    return ctypes.cast(ptr, ctypes.POINTER(FtCapi)).contents


def ptr(a):
    return a.ctypes.data_as(vp)


def test_header_ships_with_the_package():
    header = os.path.join(ft.get_include(), "fasttensor", "fasttensor.h")
    with open(header) as f:
        text = f.read()
    assert "FT_CAPI_VERSION 1" in text and "ft_import_capi" in text


def test_version_and_isa(api):
    assert api.version == 1
    assert api.active_isa().decode() == ft._C._active_isa()


def test_gemm_through_the_table(api, rng):
    m, n, k = 37, 29, 41
    a = rng.standard_normal((m, k)).astype(np.float32)
    b = rng.standard_normal((n, k)).astype(np.float32)  # used transposed
    c = np.zeros((m, n), dtype=np.float32)
    status = api.gemm(FT_FLOAT32, m, n, k, ptr(a), k, 1, ptr(b), 1, k,
                      ptr(c), n, 1, 0)
    assert status == 0
    ref = a.astype(np.float64) @ b.T.astype(np.float64)
    np.testing.assert_allclose(c, ref, rtol=1e-4, atol=1e-4 * np.sqrt(k))


def test_dot_and_softmax_through_the_table(api, rng):
    x = rng.standard_normal(100)
    y = rng.standard_normal(100)
    out = np.zeros(1)
    assert api.dot(FT_FLOAT64, 100, ptr(x), 1, ptr(y), 1, ptr(out)) == 0
    np.testing.assert_allclose(out[0], x @ y, rtol=1e-12)
    s = rng.standard_normal((3, 5))
    o = np.empty_like(s)
    shape = (i64 * 2)(3, 5)
    strides = (i64 * 2)(40, 8)
    assert api.softmax(FT_FLOAT64, 0, 2, shape, 1, ptr(s), strides, ptr(o),
                       strides) == 0
    e = np.exp(s - s.max(1, keepdims=True))
    np.testing.assert_allclose(o, e / e.sum(1, keepdims=True), rtol=1e-12)


def test_pool_and_cast_through_the_table(api):
    used = ft.get_default_memory_pool().used_bytes()
    p = api.pool_alloc(1000)
    assert p and p % 64 == 0
    assert ft.get_default_memory_pool().used_bytes() == used + 1024
    src = np.arange(6, dtype=np.int32)
    shape = (i64 * 1)(6)
    ss = (i64 * 1)(4)
    sd = (i64 * 1)(8)
    assert api.cast(FT_INT32, FT_FLOAT64, 1, shape, ptr(src), ss, p, sd) == 0
    back = np.ctypeslib.as_array(ctypes.cast(p, ctypes.POINTER(ctypes.c_double)),
                                 shape=(6,)).copy()
    np.testing.assert_array_equal(back, np.arange(6.0))
    api.pool_free(p, 1000)
    assert ft.get_default_memory_pool().used_bytes() == used
