"""The report's plot: rate against size, one line per library, ceilings drawn.

matplotlib is an optional extra (``pip install fasttensor[bench]``); it is
imported only here, with the non-interactive Agg backend.
"""

PANELS = (
    ("matmul", "matmul, square n x n (float32)", "n", "GFLOP/s"),
    ("attention", "attention, B=1 H=8 D=64 (float32)", "sequence length L",
     "GFLOP/s"),
    ("add", "add, memory-bound (float32)", "elements", "GB/s"),
)

_STYLE = {"fasttensor": ("C3", "o"), "numpy": ("C0", "s"),
          "torch": ("C1", "^")}
_LEVEL_STYLE = {"L2": ":", "L3": "-.", "DRAM": "--"}


def _tick(x):
    x = int(x)
    for unit, div in (("M", 1 << 20), ("K", 1 << 10)):
        if x >= div and x % div == 0:
            return f"{x // div}{unit}"
    return str(x)


class MatplotlibMissing(ImportError):
    """Raised when a plot is asked for and matplotlib is not installed."""


def require_matplotlib():
    """Import matplotlib with the Agg backend, or raise MatplotlibMissing."""
    try:
        import matplotlib
    except ImportError as exc:
        raise MatplotlibMissing(
            "the plot needs matplotlib, which is not installed: "
            "pip install matplotlib (or pip install 'fasttensor[bench]')"
        ) from exc
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def write_plot(report, path):
    """Draw the panels that have data and save the figure to `path`.

    Returns the list of panel names drawn (empty when no case of the run
    belongs to a plotted series; the file is still written, saying so).
    """
    plt = require_matplotlib()
    series = {}
    for res in report.results:
        if res.case.series:
            series.setdefault(res.case.series, []).append(res)
    panels = [p for p in PANELS if p[0] in series]
    ncols = max(1, len(panels))
    fig, axes = plt.subplots(1, ncols, figsize=(5.2 * ncols, 4.2),
                             squeeze=False)
    axes = axes[0]
    ceil = report.ceilings or {}
    if not panels:
        axes[0].text(0.5, 0.5, "no case of this run belongs to a plotted "
                     "series\n(matmul-N, attention-LN, add-N)",
                     ha="center", va="center")
        axes[0].set_axis_off()
    for ax, (key, title, xlabel, unit) in zip(axes, panels):
        results = sorted(series[key], key=lambda r: r.case.x)
        for lib in report.lib_names:
            pts = [(r.case.x, r.rate(lib)) for r in results
                   if r.rate(lib) is not None]
            if not pts:
                continue
            color, marker = _STYLE.get(lib, (None, "x"))
            ax.plot([p[0] for p in pts], [p[1] for p in pts], marker=marker,
                    color=color, label=lib)
        if unit == "GFLOP/s":
            peak = ceil.get("fma_gflops")
            if peak:
                ax.axhline(peak, color="k", linestyle="--", linewidth=1,
                           label=f"FMA peak x {report.threads} thr "
                                 f"({peak:.0f})")
        else:
            for level, v in (ceil.get("copy_gbs") or {}).items():
                if v:
                    ax.axhline(v, color="k", linewidth=1,
                               linestyle=_LEVEL_STYLE.get(level, "--"),
                               label=f"{level} copy ({v:.0f})")
        xs = sorted({r.case.x for r in results})
        ax.set_xscale("log", base=2)
        ax.set_xticks(xs)
        ax.set_xticklabels([_tick(x) for x in xs])
        ax.minorticks_off()
        ax.set_title(title, fontsize=10)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(unit)
        if unit == "GB/s":
            # The cache ceilings sit an order of magnitude above DRAM's.
            ax.set_yscale("log")
        else:
            ax.set_ylim(bottom=0)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(f"fasttensor vs NumPy vs PyTorch, {report.threads} "
                 f"thread(s), {report.machine.get('cpu')}", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return [p[0] for p in panels]
