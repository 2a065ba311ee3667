// The decoding of Intel's TLB leaves into the entry counts tlb_bench checks its page counts
// against, on register values written out by hand from the SDM's field layout.
#include <gtest/gtest.h>

#include "core/machine_context.hpp"

namespace pageladder {
namespace {

// One leaf-0x18 subleaf: EBX = ways << 16 | page sizes (bit 0: 4 KiB, bit 1: 2 MiB, bit 3:
// 1 GiB), ECX = sets, EDX = level << 5 | type.
CpuidRegisters translation_cache(unsigned type, unsigned level, unsigned ways, unsigned sets,
                                 unsigned page_sizes, unsigned eax = 0) {
  return {eax, ways << 16 | page_sizes, sets, level << 5 | type};
}

constexpr unsigned k4K = 1, k2M = 2, k1G = 8;
constexpr unsigned kData = 1, kInstruction = 2, kUnified = 3, kLoadOnly = 4, kStoreOnly = 5;

TEST(CpuidLeaf18, TakesTheLevel1DataTlbAndTheLevel2UnifiedTlbFor4KiBPages) {
  const CpuidDtlb d = decode_intel_leaf_0x18({
      translation_cache(kData, 1, 4, 16, k4K, /*eax: last subleaf*/ 4),  // 64 entries
      translation_cache(kData, 1, 4, 8, k2M),                           // 2 MiB only: ignored
      translation_cache(kInstruction, 1, 8, 16, k4K),                    // instructions: ignored
      translation_cache(kUnified, 2, 12, 128, k4K | k2M),               // 1536 entries
      translation_cache(kUnified, 2, 4, 4, k1G),                        // 1 GiB only: ignored
  });
  EXPECT_EQ(d.l1_entries, 64u);
  EXPECT_EQ(d.l2_entries, 1536u);
  EXPECT_EQ(d.source, "cpuid leaf 0x18");
}

TEST(CpuidLeaf18, SplitLoadAndStoreTlbsCountTheLoads) {
  const CpuidDtlb d = decode_intel_leaf_0x18({
      translation_cache(kLoadOnly, 1, 16, 6, k4K | k2M, 3),  // 96 entries
      translation_cache(kStoreOnly, 1, 16, 1, k4K | k2M),    // 16 entries: stores only
      translation_cache(kUnified, 2, 8, 256, k4K | k2M),     // 2048 entries
      translation_cache(kInstruction, 1, 8, 32, k4K),
  });
  EXPECT_EQ(d.l1_entries, 96u);
  EXPECT_EQ(d.l2_entries, 2048u);
}

TEST(CpuidLeaf18, FullyAssociativeIsWaysTimesOneSet) {
  const CpuidDtlb d = decode_intel_leaf_0x18({translation_cache(kData, 1, 32, 1, k4K)});
  EXPECT_EQ(d.l1_entries, 32u);
  EXPECT_EQ(d.l2_entries, 0u);
}

TEST(CpuidLeaf18, NullSubleavesAndAnEmptyLeafLeaveTheSizesUnknown) {
  // What a hypervisor that hides the leaf answers: subleaf 0 all zeros.
  const CpuidDtlb hidden = decode_intel_leaf_0x18({CpuidRegisters{}});
  EXPECT_EQ(hidden.l1_entries, 0u);
  EXPECT_EQ(hidden.l2_entries, 0u);
  EXPECT_EQ(hidden.source, "none");
  const CpuidDtlb none = decode_intel_leaf_0x18({});
  EXPECT_EQ(none.l1_entries, 0u);
  EXPECT_EQ(none.source, "none");
}

TEST(CpuidLeaf2, ReadsOneDataTlbAndOneSharedSecondLevel) {
  // AL = 1, then 0x03 (64-entry 4 KiB DTLB), 0xCA (512-entry shared second level) and 0xF0
  // (a prefetch size, not a TLB).
  const CpuidDtlb d = decode_intel_leaf_2({0x00CA0301, 0x000000F0, 0, 0});
  EXPECT_EQ(d.l1_entries, 64u);
  EXPECT_EQ(d.l2_entries, 512u);
  EXPECT_EQ(d.source, "cpuid leaf 2");
}

TEST(CpuidLeaf2, AnythingButTheSimpleCaseIsUnknown) {
  // 0xFF/0xFE: leaf 2 defers to leaves 4 and 0x18 (what this project's Xeon guest reports).
  EXPECT_EQ(decode_intel_leaf_2({0x00FEFF01, 0x000000F0, 0, 0}).l1_entries, 0u);
  // A DTLB0 (0x57) in front of a DTLB1 (0xB4): which is "the" level-1 data TLB is unclear.
  EXPECT_EQ(decode_intel_leaf_2({0x00B45701, 0, 0, 0}).l1_entries, 0u);
  // Two level-1 data TLB descriptors.
  EXPECT_EQ(decode_intel_leaf_2({0x005D0301, 0, 0, 0}).l1_entries, 0u);
  // A register with bit 31 set holds no descriptors.
  EXPECT_EQ(decode_intel_leaf_2({0x00000001, 0x800000CA, 0, 0}).l2_entries, 0u);
  // Leaf 2 that must be read more than once.
  EXPECT_EQ(decode_intel_leaf_2({0x00000302, 0, 0, 0}).l1_entries, 0u);
}

}  // namespace
}  // namespace pageladder
