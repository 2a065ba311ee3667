#include "core/event_windows.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>

#include <fmt/format.h>

namespace pageladder {
namespace {

// 4 MiB of windows in the benchmark's own process, written out between batches once half full:
// more than any batch of the suite holds.
constexpr size_t kCapacity = size_t{1} << 18;
constexpr double kReanchorNs = 1e6;

}  // namespace

EventWindows* EventWindows::get() {
  static EventWindows* const log = []() -> EventWindows* {
    const char* dir = std::getenv("PAGELADDER_ANATOMY_DIR");
    return dir && *dir ? new EventWindows(dir) : nullptr;
  }();
  return log;
}

EventWindows::EventWindows(std::string dir) : dir_(std::move(dir)), clock_(EventClock::get()) {
  if (clock_.source() != EventClock::Source::kMonotonic)
    reanchor_ticks_ = static_cast<uint64_t>(kReanchorNs / clock_.ns_per_tick());
  adopt_process(kCapacity);
}

void EventWindows::adopt_process(size_t capacity) {
  // The buffer is touched now, outside any batch, so that recording takes no fault.
  buffer_ = Mapping::anonymous(std::max<size_t>(capacity, 1) * sizeof(Window), Backing::kBasePages);
  buffer_.advise(MADV_DONTFORK);
  for (size_t off = 0; off < buffer_.size(); off += page_size()) touch_write(buffer_.data() + off);
  windows_ = reinterpret_cast<Window*>(buffer_.data());
  capacity_ = std::max<size_t>(capacity, 1);
  used_ = 0;
  written_row_.clear();
  owner_ = getpid();
}

void EventWindows::anchor(const std::string& row, size_t events) {
  if (getpid() != owner_) {
    // A forked child: the parent's buffer was not copied into it (MADV_DONTFORK), and the
    // windows in it are the parent's to write.
    buffer_.forget_after_fork();
    used_ = 0;
    adopt_process(events ? events : kCapacity);
  }
  if (row != row_ || used_ >= capacity_ / 2) flush();
  row_ = row;
  pair_clocks();
}

void EventWindows::pair_clocks() {
  if (clock_.source() == EventClock::Source::kMonotonic) return;
  // The monotonic reading is paired with the midpoint of the two tick reads around it.
  const uint64_t before = clock_.start();
  const uint64_t ns = EventClock::monotonic_ns();
  const uint64_t after = clock_.stop();
  anchor_ticks_ = before + (after - before) / 2;
  anchor_ns_ = ns;
}

void EventWindows::flush() {
  if (used_ == 0) return;
  fmt::memory_buffer text;
  if (row_ != written_row_) fmt::format_to(std::back_inserter(text), "row {}\n", row_);
  for (size_t i = 0; i < used_; ++i)
    fmt::format_to(std::back_inserter(text), "{} {}\n", windows_[i].start_ns, windows_[i].end_ns);
  used_ = 0;
  const std::string path = fmt::format("{}/windows.{}.txt", dir_, owner_);
  const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) {
    fmt::print(stderr, "pageladder: cannot write event windows to {}\n", path);
    return;
  }
  const char* p = text.data();
  size_t left = text.size();
  while (left > 0) {
    const ssize_t n = write(fd, p, left);
    if (n <= 0) break;
    p += n;
    left -= static_cast<size_t>(n);
  }
  close(fd);
  written_row_ = row_;
}

}  // namespace pageladder
