"""The libraries a benchmark compares: fasttensor, NumPy and PyTorch.

Each library is wrapped in a :class:`Library`, which knows how to turn a
NumPy array into the library's own array (outside any timed call), how to
turn a result back into NumPy for the agreement check, whether an op
exists, and how to set the number of threads.  Inputs are shared, not
copied, wherever the library allows it (``torch.from_numpy`` and
``fasttensor.asarray`` both wrap the NumPy buffer), so every library works
on the same bytes.
"""

import contextlib
import importlib
import os
import warnings

import numpy as np

LIBRARY_NAMES = ("fasttensor", "numpy", "torch")
SHORT_NAMES = {"fasttensor": "ft", "numpy": "np", "torch": "torch"}


def resolve(module, path):
    """Return the attribute at dotted `path` under `module`, or None.

    A submodule that the package does not import by itself (``nn`` in
    ``fasttensor.nn.softmax``) is imported on the way.
    """
    obj = module
    for part in path.split("."):
        nxt = getattr(obj, part, None)
        if nxt is None and hasattr(obj, "__path__"):
            try:
                nxt = importlib.import_module(f"{obj.__name__}.{part}")
            except ImportError:
                nxt = None
        if nxt is None:
            return None
        obj = nxt
    return obj


class Library:
    """One library as the benchmark sees it.

    Parameters
    ----------
    name : str
        ``"fasttensor"``, ``"numpy"`` or ``"torch"``; cases look up their
        implementation by this name.
    module : module or None
        The library's top-level module; None when it is not importable.
    asarray, to_numpy : callable
        Convert a NumPy array to the library's array and a result back.
    reason : str, optional
        Why the library is unavailable (shown in the report).
    version : str, optional
        The library's version string.
    """

    def __init__(self, name, module, asarray=None, to_numpy=None, reason="",
                 version=""):
        self.name = name
        self.module = module
        self.asarray = asarray or (lambda a: a)
        self.to_numpy = to_numpy or np.asarray
        self.reason = reason
        self.version = version

    @property
    def available(self):
        return self.module is not None

    @property
    def short(self):
        return SHORT_NAMES.get(self.name, self.name)

    def missing(self, paths):
        """Names among the dotted `paths` that this library lacks."""
        if self.module is None:
            return list(paths)
        return [p for p in paths if resolve(self.module, p) is None]

    def __repr__(self):
        state = "available" if self.available else f"unavailable: {self.reason}"
        return f"Library({self.name!r}, {state})"


def _fasttensor():
    try:
        import fasttensor as ft
    except ImportError as exc:  # the compiled core is missing or broken
        return Library("fasttensor", None, reason=f"import failed: {exc}")
    version = getattr(ft, "__version__", "")
    if not version:
        try:
            from importlib.metadata import version as dist_version

            version = dist_version("fasttensor")
        except Exception:
            version = "unknown"
    if not hasattr(ft, "asarray"):
        return Library("fasttensor", None, version=version,
                       reason="fasttensor.asarray does not exist yet")
    return Library("fasttensor", ft, asarray=ft.asarray, to_numpy=np.asarray,
                   version=version)


def _numpy():
    return Library("numpy", np, asarray=lambda a: a, to_numpy=np.asarray,
                   version=np.__version__)


def _torch():
    try:
        torch = importlib.import_module("torch")
    except ImportError:
        return Library("torch", None, reason="PyTorch is not installed")

    def asarray(a):
        # NumPy has no bfloat16 of its own; torch.from_numpy refuses
        # ml_dtypes' one, so its bits are shared as int16 and relabelled.
        if a.dtype.name == "bfloat16":
            return torch.from_numpy(a.view(np.int16)).view(torch.bfloat16)
        return torch.from_numpy(a)

    def to_numpy(t):
        if isinstance(t, torch.Tensor):
            t = t.detach()
            if t.dtype == torch.bfloat16:
                t = t.float()
            return t.numpy()
        return np.asarray(t)

    return Library("torch", torch, asarray=asarray, to_numpy=to_numpy,
                   version=torch.__version__)


_FACTORIES = {"fasttensor": _fasttensor, "numpy": _numpy, "torch": _torch}


def load_libraries(names=LIBRARY_NAMES):
    """Wrap the libraries called `names` (unavailable ones included)."""
    libs = []
    for name in names:
        if name not in _FACTORIES:
            raise ValueError(f"unknown library {name!r}; choose from "
                             f"{', '.join(LIBRARY_NAMES)}")
        libs.append(_FACTORIES[name]())
    return libs


def default_threads():
    """The number of cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


@contextlib.contextmanager
def thread_limit(n, libraries):
    """Run every library in `libraries` on `n` threads inside the block.

    fasttensor through ``set_num_threads`` (or threadpoolctl's OpenMP limit
    while that does not exist), PyTorch through ``torch.set_num_threads``,
    NumPy's BLAS through threadpoolctl.  Previous settings are restored on
    exit.  Yields a dict saying how each library's count was set.
    """
    how = {}
    undo = []
    names = {lib.name: lib for lib in libraries if lib.available}
    try:
        import threadpoolctl
    except ImportError:
        threadpoolctl = None

    ft = names.get("fasttensor")
    ft_module = ft.module if ft else None
    if ft_module is not None and hasattr(ft_module, "set_num_threads"):
        old = ft_module.get_num_threads() if hasattr(
            ft_module, "get_num_threads") else None
        ft_module.set_num_threads(n)
        how["fasttensor"] = "fasttensor.set_num_threads"
        if old is not None:
            undo.append(lambda: ft_module.set_num_threads(old))
    elif threadpoolctl is not None:
        ctl = threadpoolctl.threadpool_limits(limits=n, user_api="openmp")
        undo.append(ctl.restore_original_limits)
        how["fasttensor"] = "threadpoolctl (openmp)"
    else:
        how["fasttensor"] = "default (no way to set it)"

    torch_lib = names.get("torch")
    if torch_lib is not None:
        torch = torch_lib.module
        old_torch = torch.get_num_threads()
        torch.set_num_threads(n)
        undo.append(lambda: torch.set_num_threads(old_torch))
        how["torch"] = "torch.set_num_threads"

    if "numpy" in names:
        if threadpoolctl is not None:
            ctl = threadpoolctl.threadpool_limits(limits=n, user_api="blas")
            undo.append(ctl.restore_original_limits)
            how["numpy"] = "threadpoolctl (blas)"
        else:
            warnings.warn("threadpoolctl is not installed: NumPy's BLAS keeps "
                          "its own thread count (pip install threadpoolctl)",
                          RuntimeWarning, stacklevel=3)
            how["numpy"] = "default (threadpoolctl missing)"
    try:
        yield how
    finally:
        for fn in reversed(undo):
            fn()
