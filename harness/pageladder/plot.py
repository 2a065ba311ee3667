"""The charts: every draw_* a run folder or a compare folder gets, from their modules under
charts/ (ladder, comparison, sweeps, anatomy; what they share in charts/common.py). Importing it
needs matplotlib: callers import it where they draw, so the rest runs without."""
from pageladder.charts.anatomy import draw_anatomy
from pageladder.charts.common import FAMILY_COLOURS, FAMILY_NAMES, footer_text
from pageladder.charts.comparison import draw_compare, draw_kernels, draw_matrix
from pageladder.charts.ladder import draw_ladder, draw_ladder_all, draw_lifecycle
from pageladder.charts.sweeps import draw_scaling, draw_tlb_sweep, scaling_points

__all__ = ["FAMILY_COLOURS", "FAMILY_NAMES", "draw_anatomy", "draw_compare", "draw_kernels", "draw_ladder",
           "draw_ladder_all", "draw_lifecycle", "draw_matrix", "draw_scaling", "draw_tlb_sweep", "footer_text",
           "scaling_points"]
