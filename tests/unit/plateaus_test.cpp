#include "core/plateaus.hpp"

#include <gtest/gtest.h>

#include <cmath>

namespace pageladder {
namespace {

// A TLB-like curve: 1.2 ns up to 64 pages, 3.5 ns up to 2048, then a rising walk cost.
std::vector<CurvePoint> three_level_curve(double noise = 0.0) {
  std::vector<CurvePoint> c;
  for (int k = 0; k <= 26; ++k) {
    const double n = std::round(8 * std::pow(2.0, k / 2.0));
    double v = n <= 64 ? 1.2 : n <= 2048 ? 3.5 : 3.5 + 30 * std::log2(n / 2048);
    v *= 1 + noise * ((k % 3) - 1);  // deterministic ±noise
    c.push_back({n, v});
  }
  return c;
}

TEST(Plateaus, FindsTheKnownKneesOfASyntheticTlbCurve) {
  const auto c = three_level_curve();
  const auto p = find_plateaus(c);
  ASSERT_GE(p.size(), 2u);
  EXPECT_NEAR(p[0].level, 1.2, 1e-9);
  EXPECT_LE(c[p[0].last].size, 64.0);
  EXPECT_GT(c[p[0].last + 1].size, 64.0);
  EXPECT_NEAR(p[1].level, 3.5, 1e-9);
  EXPECT_LE(c[p[1].last].size, 2048.0);
  EXPECT_GT(c[p[1].last + 1].size, 2048.0);
}

TEST(Plateaus, ToleratesNoiseWithinTheTolerance) {
  const auto c = three_level_curve(0.05);
  const auto p = find_plateaus(c);
  ASSERT_GE(p.size(), 2u);
  EXPECT_NEAR(p[0].level, 1.2, 0.1);
  EXPECT_NEAR(p[1].level, 3.5, 0.2);
  EXPECT_LE(c[p[1].last].size, 2048.0 * 1.5);
}

TEST(Plateaus, AFlatCurveIsOnePlateauWithNoKnee) {
  std::vector<CurvePoint> c;
  for (double n = 8; n <= 65536; n *= 2) c.push_back({n, 1.25});
  const auto p = find_plateaus(c);
  ASSERT_EQ(p.size(), 1u);
  EXPECT_EQ(p[0].first, 0u);
  EXPECT_EQ(p[0].last, c.size() - 1);
}

TEST(Plateaus, ASteadilyRisingCurveHasNoLongPlateau) {
  std::vector<CurvePoint> c;
  for (double n = 8, v = 1; n <= 65536; n *= 2, v *= 2) c.push_back({n, v});
  EXPECT_TRUE(find_plateaus(c).empty());
}

TEST(Plateaus, EmptyCurveHasNone) { EXPECT_TRUE(find_plateaus({}).empty()); }

std::vector<CurvePoint> flat(const std::vector<CurvePoint>& like, double v) {
  auto c = like;
  for (auto& p : c) p.value = v;
  return c;
}

TEST(TlbKnees, FindsBothKneesWithAFlatControl) {
  const auto tlb = three_level_curve();
  const auto k = find_tlb_knees(tlb, flat(tlb, 1.2));
  ASSERT_TRUE(k.l1_last && k.stlb_last);
  EXPECT_EQ(tlb[*k.l1_last].size, 64.0);
  EXPECT_EQ(tlb[*k.stlb_last].size, 2048.0);
}

TEST(TlbKnees, ACacheStepSharedWithTheControlIsNotATlbKnee) {
  // Data leaves L1 at 512 lines in both layouts; translation steps at 64 and 2048 pages.
  auto tlb = three_level_curve();
  auto control = flat(tlb, 1.2);
  for (size_t i = 0; i < tlb.size(); ++i) {
    if (tlb[i].size > 512) control[i].value = 5.0;
    tlb[i].value += control[i].value - 1.2;
  }
  // And a curve whose only step is the cache step: no TLB knee at all.
  const auto k = find_tlb_knees(tlb, control);
  ASSERT_TRUE(k.l1_last && k.stlb_last);
  EXPECT_EQ(tlb[*k.l1_last].size, 64.0);
  EXPECT_EQ(tlb[*k.stlb_last].size, 2048.0);
  EXPECT_FALSE(find_tlb_knees(control, control).l1_last);
}

TEST(TlbKnees, AFlatCurveHasNoKnee) {
  const auto tlb = flat(three_level_curve(), 1.3);
  const auto k = find_tlb_knees(tlb, flat(tlb, 1.3));
  EXPECT_FALSE(k.l1_last);
  EXPECT_FALSE(k.stlb_last);
}

TEST(TlbKnees, OneTlbLevelGivesOnlyTheFirstKnee) {
  auto tlb = three_level_curve();
  for (auto& p : tlb) p.value = p.size <= 64 ? 1.2 : 3.5;
  const auto k = find_tlb_knees(tlb, flat(tlb, 1.2));
  ASSERT_TRUE(k.l1_last);
  EXPECT_FALSE(k.stlb_last);
}

}  // namespace
}  // namespace pageladder
