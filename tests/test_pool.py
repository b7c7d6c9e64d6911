"""The memory pool: reuse, statistics, limits and lifetime of borrowed
memory."""

import gc
import threading

import numpy as np
import pytest

import fasttensor as ft

UNIT = 512  # the pool's rounding unit for blocks below 1 MiB


@pytest.fixture
def pool():
    p = ft.get_default_memory_pool()
    gc.collect()
    p.free_all_blocks()
    yield p
    p.set_limit(0)
    ft.set_allocator("pool")
    p.free_all_blocks()


def test_a_freed_block_is_reused(pool):
    t = ft.empty(1000, dtype=ft.float64)
    addr = t.data_ptr()
    del t
    assert pool.n_free_blocks() >= 1
    u = ft.empty(1000, dtype=ft.float64)
    assert u.data_ptr() == addr


def test_statistics_return_to_their_start(pool):
    used0, total0 = pool.used_bytes(), pool.total_bytes()
    ts = [ft.empty(n) for n in (1, 100, 10_000, 1_000_000)]
    assert pool.used_bytes() > used0
    assert ft.memory_allocated() == pool.used_bytes()
    assert ft.memory_reserved() == pool.total_bytes()
    del ts
    assert pool.used_bytes() == used0
    assert pool.total_bytes() >= total0
    ft.empty_cache()
    assert pool.total_bytes() == used0
    assert pool.n_free_blocks() == 0 and pool.free_bytes() == 0


@pytest.mark.parametrize("nbytes,rounded", [
    (UNIT - 1, UNIT), (UNIT, UNIT), (UNIT + 1, 2 * UNIT), (1, UNIT),
    ((1 << 20) + 1, (1 << 20) + (1 << 17))])
def test_sizes_round_to_their_class(pool, nbytes, rounded):
    used0 = pool.used_bytes()
    t = ft.empty(nbytes, dtype=ft.uint8)
    assert pool.used_bytes() - used0 == rounded
    del t


def test_alignment(pool):
    for n in (1, 17, 4096, 3 << 20, 5 << 20):
        t = ft.empty(n, dtype=ft.uint8)
        align = 64 if n < (1 << 20) else 4096 if n < (4 << 20) else 2 << 20
        assert t.data_ptr() % align == 0


def test_limit_raises_memory_error_with_the_figures(pool):
    pool.set_limit(size=1 << 20)
    assert pool.get_limit() == 1 << 20
    small = ft.empty(1000)
    msg = r"cannot allocate 8000000 bytes.*limit of 1048576"
    with pytest.raises(MemoryError, match=msg) as info:
        ft.empty(1_000_000, dtype=ft.float64)
    assert info.value.requested == 8_000_000 and info.value.limit == 1 << 20
    assert isinstance(info.value, ft.OutOfMemoryError)
    del small
    pool.set_limit(0)
    big = ft.empty(1_000_000, dtype=ft.float64)
    assert big.size == 1_000_000
    with pytest.raises(ValueError):
        pool.set_limit(size=-1)
    with pytest.raises(ValueError):
        pool.set_limit(size=1, fraction=0.5)


def test_system_refusal_is_a_memory_error(pool):
    with pytest.raises(MemoryError, match="system refused"):
        ft.empty(1 << 60, dtype=ft.uint8)


def test_buffers_outlive_their_tensor(pool):
    t = ft.arange(100, dtype=ft.float64)
    view = t[10:20]
    arr = np.asarray(t[::2])
    used = pool.used_bytes()
    del t
    gc.collect()
    assert pool.used_bytes() == used  # still held by the view and the array
    np.testing.assert_array_equal(np.asarray(view), np.arange(10, 20))
    del view
    np.testing.assert_array_equal(arr, np.arange(0, 100, 2))
    del arr
    gc.collect()
    assert pool.used_bytes() < used


def test_borrowed_numpy_memory_is_not_pooled(pool):
    a = np.ones(1 << 16)
    used = pool.used_bytes()
    t = ft.asarray(a)
    assert pool.used_bytes() == used
    assert np.shares_memory(np.asarray(t), a)


def test_concurrent_allocation_from_threads(pool):
    used0 = pool.used_bytes()
    errors = []

    def work(seed):
        rng = np.random.default_rng(seed)
        try:
            for _ in range(200):
                n = int(rng.integers(1, 50_000))
                t = ft.full(n, seed, dtype=ft.int32)
                if np.asarray(t).sum() != n * seed:
                    errors.append("corrupted")
        except Exception as e:  # pragma: no cover - reported below
            errors.append(repr(e))

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert not errors
    assert pool.used_bytes() == used0


def test_caching_can_be_switched_off(pool):
    ft.set_allocator(None)
    t = ft.empty(10_000)
    del t
    assert pool.n_free_blocks() == 0
    ft.set_allocator("pool")
    t = ft.empty(10_000)
    del t
    assert pool.n_free_blocks() == 1


def test_memory_stats_and_peak(pool):
    ft.reset_peak_memory_stats()
    t = ft.empty(1 << 20, dtype=ft.uint8)
    peak = ft.max_memory_allocated()
    del t
    stats = ft.memory_stats()
    assert stats["allocated_bytes.all.peak"] == peak >= 1 << 20
    assert stats["reserved_bytes.all.current"] == pool.total_bytes()
    assert "MemoryPool" in repr(pool)
