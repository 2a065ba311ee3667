#include "core/temp_file.hpp"

#include <dirent.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include "core/mapping.hpp"

namespace pageladder {
namespace {

size_t entries(const std::string& dir) {
  size_t n = 0;
  DIR* d = opendir(dir.c_str());
  while (dirent* e = readdir(d)) n += std::string(e->d_name) != "." && std::string(e->d_name) != "..";
  closedir(d);
  return n;
}

class TempFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/var/tmp/pageladder-test-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { rmdir(dir_.c_str()); }
  std::string dir_;
};

TEST_F(TempFileTest, LeavesNoNameInTheDirectory) {
  TempFile f = TempFile::create(dir_);
  ASSERT_TRUE(f) << f.error();
  ASSERT_TRUE(f.fill(1 << 20, page_size())) << f.error();
  EXPECT_EQ(entries(dir_), 0u);
}

TEST_F(TempFileTest, HoldsTheNonUniformPattern) {
  TempFile f = TempFile::create(dir_);
  ASSERT_TRUE(f.fill(64 * page_size(), page_size()));
  EXPECT_TRUE(f.unchanged(0, 64 * page_size()));
  EXPECT_NE(TempFile::pattern_byte(0), TempFile::pattern_byte(page_size()));
  const char junk = 0;
  ASSERT_EQ(pwrite(f.fd(), &junk, 1, 5), 1);
  EXPECT_FALSE(f.unchanged(0, page_size()));
}

TEST_F(TempFileTest, EvictionLeavesNoPageResident) {
  TempFile f = TempFile::create(dir_);
  const size_t bytes = 256 * page_size();
  ASSERT_TRUE(f.fill(bytes, page_size()));
  EXPECT_EQ(f.resident_pages(bytes), 256u);  // just written: in the page cache
  if (f.filesystem() == "tmpfs") GTEST_SKIP() << "tmpfs pages cannot be evicted";
  EXPECT_EQ(f.evict(bytes), 0u);
}

TEST_F(TempFileTest, MissingDirectoryIsAClearErrorNotAnException) {
  TempFile f = TempFile::create(dir_ + "/does-not-exist");
  EXPECT_FALSE(f);
  EXPECT_NE(f.error().find("cannot create a file in"), std::string::npos) << f.error();
}

TEST_F(TempFileTest, DescribesItsStorage) {
  TempFile f = TempFile::create(dir_);
  EXPECT_NE(f.storage().find(f.filesystem()), std::string::npos) << f.storage();
}

}  // namespace
}  // namespace pageladder
