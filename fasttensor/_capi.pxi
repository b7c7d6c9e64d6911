# The C interface table (fasttensor/include/fasttensor/fasttensor.h),
# published as the capsule fasttensor._C._capi.

cdef extern from "fasttensor/fasttensor.h":
    ctypedef struct ft_capi:
        pass

cdef extern from *:
    """
    namespace ft { const ft_capi* capi_table(); }
    """
    const ft_capi* ft_capi_table "ft::capi_table"()

_capi = PyCapsule_New(<void*>ft_capi_table(), b"fasttensor._C._capi", NULL)
