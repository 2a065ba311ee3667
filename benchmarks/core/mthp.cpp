#include "core/mthp.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <stdexcept>

#include <fmt/format.h>

#include "core/flags.hpp"
#include "core/pagemap.hpp"
#include "core/sysfs.hpp"
#include "core/system_changes.hpp"

namespace pageladder {
namespace {

const std::string kThpDir = "/sys/kernel/mm/transparent_hugepage";

// A size's `enabled` lets a MADV_HUGEPAGE region use it as found: madvise or always, or inherit
// from a top level that is one of those.
bool usable_as_found(size_t kb) {
  const auto mode = read_selected(mthp_size_dir(kb) + "/enabled").value_or("never");
  if (mode == "inherit") {
    const auto top = read_selected(kThpDir + "/enabled").value_or("never");
    return top == "madvise" || top == "always";
  }
  return mode == "madvise" || mode == "always";
}

}  // namespace

std::string mthp_size_dir(size_t kb) { return fmt::format("{}/hugepages-{}kB", kThpDir, kb); }

std::vector<size_t> mthp_sizes() {
  std::vector<size_t> sizes;
  const size_t pmd_kb = thp_size() / 1024;
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator(kThpDir, error)) {
    const std::string name = entry.path().filename();
    size_t kb = 0;
    if (std::sscanf(name.c_str(), "hugepages-%zukB", &kb) == 1 && kb * 1024 > page_size() && kb < pmd_kb &&
        std::filesystem::exists(entry.path() / "enabled"))
      sizes.push_back(kb);
  }
  std::sort(sizes.begin(), sizes.end());
  return sizes;
}

std::optional<int64_t> mthp_stat(size_t kb, const char* name) {
  return read_integer(fmt::format("{}/stats/{}", mthp_size_dir(kb), name));
}

std::optional<std::string> mthp_size_for_row(size_t kb, std::unique_ptr<ScopedSysctl>& switched) {
  if (!mthp_stat(kb, "anon_fault_alloc"))
    return fmt::format("{}/stats has no anon_fault_alloc (6.10): the folio size cannot be proven",
                       mthp_size_dir(kb));
  if (usable_as_found(kb)) return std::nullopt;
  if (flag("no_system_changes") || geteuid() != 0)
    return fmt::format("{}/enabled is off and {}", mthp_size_dir(kb),
                       flag("no_system_changes") ? "NO_SYSTEM_CHANGES forbids switching it on"
                                                 : "switching it on needs root");
  try {
    switched = std::make_unique<ScopedSysctl>(mthp_size_dir(kb) + "/enabled", "madvise");
  } catch (const std::exception& e) {
    return fmt::format("{}/enabled could not be switched on: {}", mthp_size_dir(kb), e.what());
  }
  return std::nullopt;
}

std::string mthp_size_note(size_t kb, bool switched) {
  return switched ? fmt::format("hugepages-{}kB/enabled set to madvise for this row, restored after", kb)
                  : fmt::format("hugepages-{}kB/enabled as found ({})", kb,
                                read_selected(mthp_size_dir(kb) + "/enabled").value_or("?"));
}

MthpRegion::MthpRegion(size_t chunk_bytes, size_t spans)
    : chunk_(chunk_bytes), span_(thp_size()), spans_(spans),
      mapping_(Mapping::anonymous(spans * span_, Backing::kHugePages, span_)) {
  for (size_t s = 0; s < spans_; ++s) {
    if (munmap(mapping_.data() + s * span_, page_size()) != 0) throw std::runtime_error("munmap failed");
    touch_write(mapping_.data() + s * span_ + page_size());  // the anchor
  }
}

void MthpRegion::advise_chunks(int advice) const {
  for (size_t s = 0; s < spans_; ++s) mapping_.advise(s * span_ + chunk_, span_ - chunk_, advice);
}

std::optional<std::string> mthp_chunk_not_one_folio(const Pagemap& pagemap, const char* chunk, size_t chunk_bytes) {
  const size_t pages = chunk_bytes / page_size();
  const size_t present = pagemap.count_present(chunk, pages);  // one read for the whole chunk
  if (present != pages)
    return fmt::format("{} of the {} pages of a {} KiB chunk mapped after its fault: not one folio of that size",
                       present, pages, chunk_bytes / 1024);
  const PageState first = pagemap.at(chunk).value_or(PageState{});
  const PageState final = pagemap.at(chunk + chunk_bytes - page_size()).value_or(PageState{});
  const uint64_t head = first.pfn, last = final.pfn;
  const auto head_flags = head ? kpageflags(head) : std::nullopt;
  const auto last_flags = last ? kpageflags(last) : std::nullopt;
  if (!head_flags || !last_flags) return std::nullopt;  // no root: pagemap alone says it
  if (last != head + pages - 1 || !(*head_flags >> kKpfCompoundHead & 1) || !(*last_flags >> kKpfCompoundTail & 1))
    return fmt::format("kpageflags: a {} KiB chunk's frames are not one large folio", chunk_bytes / 1024);
  return std::nullopt;
}

size_t mthp_spans_for(size_t chunk_bytes, size_t min_chunks) {
  const size_t per_span = thp_size() / chunk_bytes - 1;
  return std::max<size_t>((min_chunks + per_span - 1) / per_span, (size_t{4} << 20) / thp_size());
}

}  // namespace pageladder
