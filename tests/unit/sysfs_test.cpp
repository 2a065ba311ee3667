#include "core/sysfs.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <string>

namespace pageladder {
namespace {

std::string temp_file(const std::string& text) {
  char path[] = "/tmp/pageladder-sysfs-XXXXXX";
  const int fd = mkstemp(path);
  close(fd);
  std::ofstream(path) << text;
  return path;
}

TEST(Sysfs, ReadsTheBracketedSelection) {
  const auto path = temp_file("always [madvise] never\n");
  EXPECT_EQ(read_selected(path).value(), "madvise");
  std::remove(path.c_str());
}

TEST(Sysfs, ReadsKeyedIntegers) {
  const auto path = temp_file("pgfault 12\nthp_fault_alloc 3\nMemTotal:   1024 kB\n");
  EXPECT_EQ(read_keyed_integer(path, "thp_fault_alloc").value(), 3);
  EXPECT_EQ(read_keyed_integer(path, "MemTotal").value(), 1024);
  EXPECT_FALSE(read_keyed_integer(path, "missing").has_value());
  std::remove(path.c_str());
}

TEST(Sysfs, MissingFilesAreNulloptNotErrors) {
  EXPECT_FALSE(read_file("/nonexistent/pageladder").has_value());
  EXPECT_FALSE(read_integer("/nonexistent/pageladder").has_value());
}

}  // namespace
}  // namespace pageladder
