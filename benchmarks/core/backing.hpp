// The backing checks the fault benchmarks share: whether transparent huge pages can be asked
// for, how much of a VMA is THP-backed, and whether private memory grew by one copied page per
// write. Each is written once here so the rows that rely on it agree on what it means and on the
// words a reader sees when it fails.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

namespace pageladder {

class EventRun;

// Why a THP row cannot run here ("transparent huge pages are 'never'"), or nothing when
// MADV_HUGEPAGE can give this process huge pages.
std::optional<std::string> why_no_thp();

// smaps AnonHugePages of the VMA holding `address`, in kB; nothing when smaps does not say
// (unreadable, or no VMA there), which each caller reads as its check requires.
std::optional<int64_t> anon_huge_kb(const void* address);

// smaps Private_Dirty of the VMA holding `address`, in kB (copy-on-write copies show up here);
// -1 when smaps does not say.
int64_t private_dirty_kb(const void* address);

// The evidence behind a row's claim on copies: the pages of private memory (Private_Dirty)
// its writes added, exported per write as copied_pages_per_write.
void record_copies(EventRun& run, int64_t grew_kb, size_t writes);

// A copy-on-write batch of `writes` first writes must have grown private memory by exactly one
// page per write; otherwise the row is invalid with "<whose> grew by X kB over N writes,
// expected Y kB<consequence>". Records the evidence too (record_copies).
void check_one_copy_per_write(EventRun& run, int64_t grew_kb, size_t writes,
                              const std::string& whose = "private memory",
                              const std::string& consequence = "");

}  // namespace pageladder
