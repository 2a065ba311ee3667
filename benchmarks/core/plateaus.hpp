// Finds the plateaus and knees of a latency curve (cost against working-set size): the TLB
// levels show up as flat stretches separated by steps. Sizes are read off the measured curve,
// never assumed; CPUID is at most a hint.
#pragma once

#include <cstddef>
#include <optional>
#include <vector>

namespace pageladder {

struct CurvePoint {
  double size;   // pages
  double value;  // ns
};

struct Plateau {
  size_t first = 0, last = 0;  // indices into the curve, inclusive
  double level = 0;            // median value of its points
};

// Plateaus of at least `min_points` points, in order of size. A point belongs to the current
// plateau while it stays within max(abs_tolerance, rel_tolerance * level) of the plateau's
// level; points between plateaus are transitions. A flat curve is one plateau (no knee).
std::vector<Plateau> find_plateaus(const std::vector<CurvePoint>& curve,
                                   double abs_tolerance = 0.4, double rel_tolerance = 0.15,
                                   size_t min_points = 2);

// The TLB knees of a pointer-chase sweep, from the 4 KiB curve and its same-footprint control.
// The first TLB knee is the end of the first plateau of the 4 KiB curve that the control does
// not share (a step both curves take is the data leaving a cache, not the TLB). The second is
// the largest step of the translation penalty (4 KiB minus control) after that, if it is a real
// step: at least max(1 ns, half the penalty before it). Indices are the last point before each
// knee; nullopt where the curve shows no such knee.
struct TlbKnees {
  std::optional<size_t> l1_last;
  std::optional<size_t> stlb_first;  // first point of the plateau after the first knee
  std::optional<size_t> stlb_last;
};
TlbKnees find_tlb_knees(const std::vector<CurvePoint>& tlb, const std::vector<CurvePoint>& control);

}  // namespace pageladder
