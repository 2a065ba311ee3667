#include "core/plateaus.hpp"

#include <algorithm>
#include <cmath>

namespace pageladder {
namespace {

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

}  // namespace

std::vector<Plateau> find_plateaus(const std::vector<CurvePoint>& curve, double abs_tolerance,
                                   double rel_tolerance, size_t min_points) {
  std::vector<Plateau> plateaus;
  size_t i = 0;
  while (i < curve.size()) {
    // Grow a run from i while each point stays near the run's median level.
    std::vector<double> run{curve[i].value};
    size_t j = i + 1;
    while (j < curve.size()) {
      const double level = median(run);
      const double tolerance = std::max(abs_tolerance, rel_tolerance * std::fabs(level));
      if (std::fabs(curve[j].value - level) > tolerance) break;
      run.push_back(curve[j].value);
      ++j;
    }
    if (run.size() >= min_points) plateaus.push_back({i, j - 1, median(run)});
    i = run.size() >= min_points ? j : i + 1;
  }
  return plateaus;
}

TlbKnees find_tlb_knees(const std::vector<CurvePoint>& tlb, const std::vector<CurvePoint>& control) {
  TlbKnees knees;
  if (tlb.size() != control.size() || tlb.size() < 3) return knees;
  const std::vector<Plateau> plateaus = find_plateaus(tlb);
  for (size_t p = 0; p + 1 < plateaus.size(); ++p) {
    const size_t before = plateaus[p].last, after = plateaus[p + 1].first;
    if (control[after].value < 1.15 * control[before].value) {
      knees.l1_last = before;
      knees.stlb_first = after;
      break;
    }
  }
  if (!knees.stlb_first) return knees;
  // Relative steps: deep in the page-walk region the penalty keeps growing in absolute terms
  // (page-table lines leave the caches), but the STLB knee is where it jumps by a factor.
  const auto penalty = [&](size_t k) { return tlb[k].value - control[k].value; };
  double best_ratio = 0;
  size_t best = 0;
  for (size_t k = *knees.stlb_first; k + 1 < tlb.size(); ++k) {
    const double step = penalty(k + 1) - penalty(k);
    const double ratio = step / std::max(penalty(k), 0.5);
    if (step >= 1.0 && ratio > best_ratio) {
      best_ratio = ratio;
      best = k;
    }
  }
  if (best_ratio >= 0.5) knees.stlb_last = best;
  return knees;
}

}  // namespace pageladder
