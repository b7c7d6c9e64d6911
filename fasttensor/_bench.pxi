# The machine's ceilings for the benchmark report (fasttensor.bench).

cdef extern from "ops/bandwidth.h" namespace "ft":
    int _ft_copy_bandwidth "ft::copy_bandwidth" (
        int64_t nbytes, double seconds, bint nontemporal,
        double* gbs) nogil


def _copy_bandwidth_gbs(nbytes, seconds=0.2, nontemporal=False):
    """Measure this machine's copy bandwidth on fasttensor's threads.

    Copies a buffer of `nbytes` bytes into another, over and over for
    `seconds`, split across the threads fasttensor currently uses, and
    returns the best pass.

    Parameters
    ----------
    nbytes : int
        Size of one buffer; the working set is twice this.  Pick it to land
        in the cache level to measure (for instance 128 KiB per thread for
        L2, a few MiB for L3, 256 MiB for DRAM).
    seconds : float, optional
        How long to keep copying (at least three passes run).
    nontemporal : bool, optional
        Write with streaming stores that bypass the caches (the right
        choice for a copy far larger than the last-level cache).

    Returns
    -------
    float
        Bandwidth in GB/s (1e9 bytes per second), counting the bytes read
        plus the bytes written, as STREAM counts its Copy kernel.

    Raises
    ------
    ValueError
        If `nbytes` is below 1 or `seconds` is negative.
    MemoryError
        If the two buffers cannot be allocated.
    """
    cdef int64_t n = nbytes
    cdef double secs = seconds
    cdef bint nt = bool(nontemporal)
    cdef double gbs = 0.0
    cdef int status
    if n < 1:
        raise ValueError(f"_copy_bandwidth_gbs: nbytes must be at least 1, "
                         f"got {nbytes}")
    if not secs >= 0:
        raise ValueError(f"_copy_bandwidth_gbs: seconds must be >= 0, "
                         f"got {seconds}")
    with nogil:
        status = _ft_copy_bandwidth(n, secs, nt, &gbs)
    if status == 2:
        raise MemoryError(f"_copy_bandwidth_gbs: cannot allocate two buffers "
                          f"of {nbytes} bytes")
    if status != 0:
        raise RuntimeError(f"_copy_bandwidth_gbs: the copy kernel failed "
                           f"(status {status})")
    return gbs
