"""What every chart shares: the colours, the footer that keeps a pasted chart's provenance, the
figure and its deterministic save (no date, fixed hash salt: the same run.json draws byte-identical
files), and the logarithmic time axis with its ns/us/ms bands and the textbook's quoted figures."""
import math

import matplotlib
import matplotlib.patches

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib import ticker  # noqa: E402

from pageladder import fingerprint, safe_io  # noqa: E402


# Okabe-Ito: distinguishable with every common colour-vision deficiency.

FAMILY_COLOURS = {
    "tlb": "#0072B2",
    "anonymous": "#009E73",
    "cow": "#E69F00",
    "file": "#56B4E9",
    "swap": "#CC79A7",
    "signals": "#000000",
    "reference": "#555555",
}

FAMILY_NAMES = {"tlb": "TLB", "anonymous": "anonymous memory", "cow": "copy-on-write",
                "file": "file mappings", "swap": "swap", "signals": "signals and userfaults",
                "reference": "references"}

INVALID_COLOUR = "#D55E00"

UNIT_BANDS = ((1e-9, 1e-6, "nanoseconds"), (1e-6, 1e-3, "microseconds"), (1e-3, 1.0, "milliseconds"))

# The chapter's textbook ladder, quoted, not measured (sources: docs/sources.md).

TEXTBOOK = (("TLB hit ~1 ns", 0.7e-9, 1.4e-9), ("minor fault 1-10 µs", 1e-6, 10e-6),
            ("major fault 5-10 ms", 5e-3, 10e-3))

def style():
    plt.rcParams.update({
        "svg.hashsalt": "pageladder",
        "svg.fonttype": "none",  # text stays text: searchable, selectable, small
        "font.size": 9,
        "axes.spines.top": False,
        "axes.spines.right": False,
    })

def footer_text(block):
    m, k, s = block["machine"], block["kernel"], block["settings"]
    emulated = fingerprint.emulation(s)
    return ((f"TIMES EMULATED ({emulated}) · " if emulated else "") + f"{block['run_id']} · {m.get('cpu_model')} · {m.get('cpus')} CPUs · kernel {k.get('release')} · "
            f"virt {s.get('virtualization', '?')} · THP {(s.get('thp') or {}).get('enabled')} · "
            f"timer {s.get('timer')} · pageladder schema {block['schema_version']}")

def figure(width, height):
    """A figure with room kept at the bottom for the provenance footer."""
    fig, ax = plt.subplots(figsize=(width, height), layout="constrained")
    fig.get_layout_engine().set(rect=(0, 0.25 / height, 1, 1 - 0.25 / height))
    return fig, ax

def save(fig, stem):
    """stem.svg and stem.png, each written whole (a temporary name, then a rename)."""
    with safe_io.atomic_path(f"{stem}.svg") as tmp:
        fig.savefig(tmp, format="svg", metadata={"Date": None})
    with safe_io.atomic_path(f"{stem}.png") as tmp:
        fig.savefig(tmp, format="png", dpi=150, metadata={"Software": None})
    plt.close(fig)

def draw_time_axis(ax, lo_s, hi_s, textbook=True):
    """Log x-axis in seconds from lo_s to hi_s, unit bands shaded and named, textbook marks."""
    ax.set_xscale("log")
    ax.set_xlim(lo_s, hi_s)
    ax.xaxis.set_major_locator(ticker.LogLocator(base=10))
    ax.xaxis.set_minor_locator(ticker.LogLocator(base=10, subs=range(2, 10)))
    ax.xaxis.set_minor_formatter(ticker.NullFormatter())
    ax.xaxis.set_major_formatter(ticker.EngFormatter(unit="s", sep="\N{THIN SPACE}"))
    for i, (a, b, name) in enumerate(UNIT_BANDS):
        if b <= lo_s or a >= hi_s:
            continue
        ax.axvspan(max(a, lo_s), min(b, hi_s), color="#000000", alpha=0.035 if i % 2 == 0 else 0.0, lw=0)
        centre = math.sqrt(max(a, lo_s) * min(b, hi_s))
        ax.text(centre, 1.01, name, transform=ax.get_xaxis_transform(), ha="center", va="bottom",
                fontsize=8, color="#444444")
    if textbook:
        # A hatched strip along the bottom: visibly not a measurement.
        for label, a, b in TEXTBOOK:
            if a < hi_s and b > lo_s:
                ax.axvspan(a, b, ymin=0, ymax=0.035, facecolor="none", edgecolor="#999999",
                           hatch="////", lw=0.5)
                ax.text(math.sqrt(a * b), 0.045, f"textbook: {label}\n(quoted, not measured)",
                        transform=ax.get_xaxis_transform(), ha="center", va="bottom", fontsize=6,
                        color="#777777")
    ax.grid(axis="x", which="major", color="#dddddd", lw=0.6)

def axis_limits(values_ns):
    """Whole decades covering the values and always 1 ns to 10 ms: the chapter's whole ladder."""
    lo = min([1.0] + [v / 2 for v in values_ns if v > 0]) * 1e-9
    hi = max([1e7] + [v * 3 for v in values_ns]) * 1e-9
    return 10 ** math.floor(math.log10(lo)), 10 ** math.ceil(math.log10(hi))

def _wrap(text, width=46, lines=2):
    """Text wrapped at `width`; `lines` at most (the last cut with "…"), or every line (None)."""
    import textwrap

    if lines is None:
        return "\n".join(textwrap.wrap(text or "", width))
    return "\n".join(textwrap.wrap(text or "", width, max_lines=lines, placeholder="…"))

def _shorten(text, limit=70):
    text = text or ""
    return text if len(text) <= limit else text[: limit - 1] + "…"
