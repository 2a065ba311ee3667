#include "core/pagemap.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <sstream>
#include <vector>

#include "core/mapping.hpp"
#include "core/sysfs.hpp"

namespace pageladder {

Pagemap::Pagemap() : fd_(open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC)) {}

Pagemap::~Pagemap() {
  if (fd_ >= 0) close(fd_);
}

PageState Pagemap::decode(uint64_t entry) {
  PageState s;
  s.present = entry >> 63 & 1;
  s.swapped = entry >> 62 & 1;
  s.file_or_shared = entry >> 61 & 1;
  s.exclusive = entry >> 56 & 1;
  s.pfn = s.present ? entry & ((uint64_t{1} << 55) - 1) : 0;
  return s;
}

std::optional<PageState> Pagemap::at(const void* address) const {
  uint64_t entry = 0;
  const auto offset = static_cast<off_t>(reinterpret_cast<uintptr_t>(address) / page_size() * 8);
  if (fd_ < 0 || pread(fd_, &entry, sizeof entry, offset) != sizeof entry) return std::nullopt;
  return decode(entry);
}

template <class Pred>
size_t Pagemap::count(const void* address, size_t pages, Pred pred) const {
  if (fd_ < 0) return 0;
  std::vector<uint64_t> entries(pages);
  const auto offset = static_cast<off_t>(reinterpret_cast<uintptr_t>(address) / page_size() * 8);
  const auto bytes = static_cast<ssize_t>(pages * sizeof(uint64_t));
  if (pread(fd_, entries.data(), pages * sizeof(uint64_t), offset) != bytes) return 0;
  size_t n = 0;
  for (uint64_t e : entries) n += pred(decode(e)) ? 1 : 0;
  return n;
}

size_t Pagemap::count_present(const void* address, size_t pages) const {
  return count(address, pages, [](const PageState& s) { return s.present; });
}
size_t Pagemap::count_exclusive(const void* address, size_t pages) const {
  return count(address, pages, [](const PageState& s) { return s.present && s.exclusive; });
}

std::optional<uint64_t> kpageflags(uint64_t pfn) {
  const int fd = open("/proc/kpageflags", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  uint64_t flags = 0;
  const bool ok = pread(fd, &flags, sizeof flags, static_cast<off_t>(pfn * 8)) == sizeof flags;
  close(fd);
  if (!ok) return std::nullopt;
  return flags;
}

std::map<std::string, int64_t> parse_smaps_vma(const std::string& smaps, uintptr_t address) {
  std::map<std::string, int64_t> fields;
  std::istringstream in(smaps);
  std::string line;
  bool inside = false;
  while (std::getline(in, line)) {
    // A VMA header starts with "start-end " in hex; field lines start with "Name:".
    const auto dash = line.find('-');
    const auto space = line.find(' ');
    const auto colon = line.find(':');
    const bool header = dash != std::string::npos && space != std::string::npos && dash < space &&
                        (colon == std::string::npos || colon > space);
    if (header) {
      if (inside) break;
      const uintptr_t start = std::stoull(line.substr(0, dash), nullptr, 16);
      const uintptr_t end = std::stoull(line.substr(dash + 1, space - dash - 1), nullptr, 16);
      inside = address >= start && address < end;
      continue;
    }
    if (!inside || colon == std::string::npos) continue;
    std::istringstream value(line.substr(colon + 1));
    int64_t kb = 0;
    if (value >> kb) fields[line.substr(0, colon)] = kb;
  }
  return fields;
}

std::map<std::string, int64_t> smaps_for(const void* address) {
  const auto text = read_file("/proc/self/smaps");
  if (!text) return {};
  return parse_smaps_vma(*text, reinterpret_cast<uintptr_t>(address));
}

}  // namespace pageladder
