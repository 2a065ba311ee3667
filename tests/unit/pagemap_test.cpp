#include "core/pagemap.hpp"

#include <gtest/gtest.h>
#include <sys/mman.h>

#include "core/mapping.hpp"

namespace pageladder {
namespace {

TEST(Pagemap, DecodesTheDocumentedBits) {
  const uint64_t entry = (uint64_t{1} << 63) | (uint64_t{1} << 56) | 0x1234;
  const PageState s = Pagemap::decode(entry);
  EXPECT_TRUE(s.present);
  EXPECT_FALSE(s.swapped);
  EXPECT_TRUE(s.exclusive);
  EXPECT_EQ(s.pfn, 0x1234u);
  EXPECT_TRUE(Pagemap::decode(uint64_t{1} << 62).swapped);
  EXPECT_FALSE(Pagemap::decode(uint64_t{1} << 62).present);
}

TEST(Pagemap, SeesTouchedPagesPresentAndDiscardedPagesGone) {
  constexpr size_t kPages = 32;
  Mapping m = Mapping::anonymous(kPages * page_size(), Backing::kBasePages);
  Pagemap pagemap;
  ASSERT_TRUE(pagemap.ok());
  EXPECT_EQ(pagemap.count_present(m.data(), kPages), 0u);
  for (size_t i = 0; i < kPages; i += 2) touch_write(m.data() + i * page_size());
  EXPECT_EQ(pagemap.count_present(m.data(), kPages), kPages / 2);
  EXPECT_EQ(pagemap.count_exclusive(m.data(), kPages), kPages / 2);
  m.discard();
  EXPECT_EQ(pagemap.count_present(m.data(), kPages), 0u);
}

TEST(Smaps, ParsesTheVmaThatContainsTheAddress) {
  const std::string text =
      "00400000-00452000 r-xp 00000000 08:02 173521 /usr/bin/x\n"
      "Rss:                 100 kB\n"
      "AnonHugePages:         0 kB\n"
      "7f0000000000-7f0000400000 rw-p 00000000 00:00 0\n"
      "Size:               4096 kB\n"
      "Rss:                2048 kB\n"
      "AnonHugePages:      2048 kB\n"
      "VmFlags: rd wr mr mw me ac hg\n"
      "7f0000400000-7f0000401000 rw-p 00000000 00:00 0\n"
      "Rss:                   4 kB\n";
  const auto fields = parse_smaps_vma(text, 0x7f0000200000);
  EXPECT_EQ(fields.at("Rss"), 2048);
  EXPECT_EQ(fields.at("AnonHugePages"), 2048);
  EXPECT_EQ(fields.at("Size"), 4096);
  EXPECT_TRUE(parse_smaps_vma(text, 0x1000).empty());
}

TEST(Smaps, BasePageMappingIsNotThpBacked) {
  if (thp_size() == 0) GTEST_SKIP() << "no THP support";
  Mapping m = Mapping::anonymous(4 * thp_size(), Backing::kBasePages, thp_size());
  for (size_t off = 0; off < m.size(); off += page_size()) touch_write(m.data() + off);
  const auto fields = smaps_for(m.data());
  ASSERT_TRUE(fields.count("AnonHugePages"));
  EXPECT_EQ(fields.at("AnonHugePages"), 0);
  EXPECT_EQ(fields.at("Rss"), static_cast<int64_t>(m.size() / 1024));
}

}  // namespace
}  // namespace pageladder
