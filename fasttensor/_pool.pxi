# The memory pool's Python face: CuPy's MemoryPool names plus PyTorch's
# memory_allocated / memory_reserved / empty_cache shortcuts.

cdef extern from "core/pool.h" namespace "ft":
    cdef size_t kSmallUnit
    ctypedef struct PoolStats:
        size_t used_bytes
        size_t total_bytes
        size_t free_bytes
        size_t n_free_blocks
        size_t limit
        size_t peak_used_bytes
        size_t peak_total_bytes
        uint64_t n_allocs
        uint64_t n_cache_hits
        uint64_t n_system_allocs
        uint64_t n_ooms
    size_t pool_round(size_t nbytes) nogil
    void* pool_alloc(size_t nbytes) nogil
    void pool_free(void* p, size_t nbytes) nogil
    void pool_free_all() nogil
    void pool_set_limit(size_t limit) nogil
    void pool_set_enabled(bint enabled) nogil
    bint pool_enabled() nogil
    void pool_reset_peaks() nogil
    PoolStats pool_stats() nogil


class OutOfMemoryError(MemoryError):
    """An allocation the pool's limit or the system refused.

    Attributes
    ----------
    requested : int
        Bytes asked for.
    pooled : int
        Bytes the pool held (in use plus cached) when it refused.
    limit : int
        The pool's limit in bytes, 0 when none is set.
    """

    def __init__(self, requested, pooled, limit):
        self.requested = requested
        self.pooled = pooled
        self.limit = limit
        if limit:
            why = f"over the pool limit of {limit} bytes"
        else:
            why = "the system refused it"
        super().__init__(
            f"fasttensor: cannot allocate {requested} bytes: {why} "
            f"({pooled} bytes pooled)")


cdef void* pool_alloc_or_raise(size_t nbytes) except NULL:
    cdef void* p
    with nogil:
        p = pool_alloc(nbytes)
    if p == NULL:
        st = pool_stats()
        raise OutOfMemoryError(nbytes, st.total_bytes, st.limit)
    return p


class MemoryPool:
    """The caching allocator behind every tensor fasttensor allocates.

    A freed tensor's block is cached by size class and handed to the next
    request of that class instead of going back to the system; this makes
    repeated allocation of same-sized temporaries cheap.  Sizes are rounded
    up to a multiple of 512 bytes below 1 MiB and to one of eight classes
    per power of two above it.  Blocks are 64-byte aligned (4 KiB from
    1 MiB, 2 MiB from 4 MiB, where transparent huge pages are requested
    unless ``FASTTENSOR_HUGEPAGES=0``).

    Use :func:`get_default_memory_pool` to get the pool; the method names
    follow ``cupy.cuda.MemoryPool``.
    """

    def used_bytes(self):
        """Bytes held by live tensors (rounded sizes)."""
        return pool_stats().used_bytes

    def total_bytes(self):
        """Bytes held from the system: in use plus cached."""
        return pool_stats().total_bytes

    def free_bytes(self):
        """Bytes cached for reuse and not in use."""
        return pool_stats().free_bytes

    def n_free_blocks(self):
        """Number of cached blocks."""
        return pool_stats().n_free_blocks

    def free_all_blocks(self):
        """Return every cached block to the system."""
        with nogil:
            pool_free_all()

    def set_limit(self, size=None, fraction=None):
        """Cap the bytes the pool may hold (in use plus cached).

        Parameters
        ----------
        size : int, optional
            The cap in bytes; 0 or None removes it.
        fraction : float, optional
            The cap as a fraction (0 to 1) of the machine's physical memory.
            Give ``size`` or ``fraction``, not both.

        Raises
        ------
        ValueError
            When both or a negative value are given.
        """
        if size is not None and fraction is not None:
            raise ValueError("set_limit: give size or fraction, not both")
        if fraction is not None:
            fraction = float(fraction)
            if not 0.0 <= fraction <= 1.0:
                raise ValueError(
                    f"set_limit: fraction must be in [0, 1], got {fraction}")
            import os
            total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
            size = int(total * fraction)
        if size is None:
            size = 0
        size = operator.index(size)
        if size < 0:
            raise ValueError(f"set_limit: size must be >= 0, got {size}")
        pool_set_limit(size)

    def get_limit(self):
        """The cap in bytes set by :meth:`set_limit`, 0 when none."""
        return pool_stats().limit

    def __repr__(self):
        st = pool_stats()
        return (f"<fasttensor.MemoryPool used={st.used_bytes} "
                f"total={st.total_bytes} free_blocks={st.n_free_blocks} "
                f"limit={st.limit}>")


_default_pool = MemoryPool()


def get_default_memory_pool():
    """The process-wide :class:`MemoryPool` (CuPy's name for it)."""
    return _default_pool


def set_allocator(allocator):
    """Turn the pool's caching off (``None``) or back on (``"pool"``).

    With caching off every freed block goes straight back to the system,
    which helps tools such as memory debuggers.
    """
    if allocator is None:
        pool_set_enabled(False)
    elif allocator == "pool":
        pool_set_enabled(True)
    else:
        raise ValueError(
            f"set_allocator: expected None or 'pool', got {allocator!r}")


def empty_cache():
    """Release the pool's cached blocks to the system (PyTorch's name)."""
    with nogil:
        pool_free_all()


def memory_allocated():
    """Bytes held by live tensors (PyTorch's name for used bytes)."""
    return pool_stats().used_bytes


def memory_reserved():
    """Bytes the pool holds, in use plus cached (PyTorch's name)."""
    return pool_stats().total_bytes


def max_memory_allocated():
    """Peak of :func:`memory_allocated` since start or the last reset."""
    return pool_stats().peak_used_bytes


def reset_peak_memory_stats():
    """Start the peak statistics again from the current values."""
    pool_reset_peaks()


def memory_stats():
    """Pool statistics as a flat dict, in PyTorch's ``name.pool.metric`` style."""
    st = pool_stats()
    return {
        "allocated_bytes.all.current": st.used_bytes,
        "allocated_bytes.all.peak": st.peak_used_bytes,
        "reserved_bytes.all.current": st.total_bytes,
        "reserved_bytes.all.peak": st.peak_total_bytes,
        "inactive_bytes.all.current": st.free_bytes,
        "num_free_blocks": st.n_free_blocks,
        "num_alloc_requests": st.n_allocs,
        "num_cache_hits": st.n_cache_hits,
        "num_system_allocs": st.n_system_allocs,
        "num_ooms": st.n_ooms,
        "limit_bytes": st.limit,
    }
