// The other side of a copy-on-write fault: a forked partner that holds the shared pages while
// the writer works, and then says whether it still sees what they held before. Copies are
// proven, not assumed: private memory (smaps Private_Dirty) must grow by what the kernel copied,
// and the partner must still read the original bytes after the writer's stores.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "core/child_process.hpp"

namespace pageladder {

class EventRun;

constexpr char kCowOriginal = 2;  // what every page holds before the measured writes
constexpr char kCowWritten = 1;   // what a measured write stores (touch_write's default)

// A partner that keeps its view of `pages` until released (signal_child), then exits 0 if it
// still sees kCowOriginal at each of them, 1 if not.
std::unique_ptr<ChildProcess> fork_holder(const std::vector<char*>& pages);

// Releases the holder and waits for it: the row is invalid if the partner saw the writer's stores.
void check_holder_unchanged(EventRun& run, ChildProcess& holder);

// The batch's n writes must have copied one 4 KiB page each (private memory grown by that since
// private_before_kb, in the VMA holding `vma`); then check_holder_unchanged.
void check_copies(EventRun& run, int64_t private_before_kb, const void* vma, size_t n, ChildProcess& holder);

}  // namespace pageladder
