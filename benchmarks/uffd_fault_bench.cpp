// uffd_fault_bench: a page fault resolved in user space, through userfaultfd.
//
// A region registered with userfaultfd in missing-page mode: the first touch of an absent page
// makes the kernel queue a fault message on the userfaultfd and put the faulting thread to sleep
// (handle_userfault); a handler thread reads the message, fills the page with UFFDIO_COPY (the
// kernel allocates it, copies 4 KiB in and maps it, waking the faulting thread), and the fault
// is retried and completes. This is how live migration, snapshot restore and CRIU's lazy pages
// bring memory in. One event = one such first write, timed in the faulting thread: the fault,
// two context switches and the copy. Verified per event, on what holds on every kernel: one
// fault, one fault message handled (the handler counts them) and, after the batch, the page
// holding the handler's content beside the write. The class of that fault is recorded, not
// required: Linux 6.1 counts it as major (the fault is retried after the handler's wake-up,
// and a retried fault was accounted major), later kernels as minor. Pages are dropped with MADV_DONTNEED between batches (the registration stays).
// Without permission (vm.unprivileged_userfaultfd 0, no CAP_SYS_PTRACE) or kernel support the
// row is skipped with the reason. Rows: uffd_fault (missing mode, anonymous memory, UFFDIO_COPY)
// and uffd_fault_minor (minor mode on shmem: the page is in the page cache, UFFDIO_CONTINUE maps
// it; Linux 5.14+). Not modelled: write-protect mode, many faulting threads, the handler on
// another machine (the network).
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <thread>
#include <vector>

#include <benchmark/benchmark.h>
#include <fmt/format.h>

#include "core/event_run.hpp"
#include "core/flags.hpp"
#include "core/mapping.hpp"

namespace pageladder {
namespace {

constexpr size_t kPages = 512;
// The content that proves where a page came from: the handler's source page (missing mode) or
// the page cache filled through the second mapping (minor mode), read back mid-page.
constexpr char kCopiedByte = 0x5a;
constexpr char kPageCacheByte = 0x3c;
constexpr char kWrittenByte = 1;

// A userfaultfd, or why there is none.
int open_userfaultfd(std::string* why) {
#ifdef UFFD_USER_MODE_ONLY
  // Faults from user space only: allowed to unprivileged processes even where
  // vm.unprivileged_userfaultfd is 0 (Linux 5.11+).
  int fd = static_cast<int>(syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK | UFFD_USER_MODE_ONLY));
  if (fd >= 0) return fd;
#endif
  fd = static_cast<int>(syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK));
  if (fd >= 0) return fd;
  *why = errno == ENOSYS ? "this kernel has no userfaultfd"
         : errno == EPERM ? "userfaultfd not permitted (vm.unprivileged_userfaultfd is 0 and no CAP_SYS_PTRACE)"
                          : fmt::format("userfaultfd failed: {}", std::strerror(errno));
  return -1;
}

// Reads fault messages and resolves each with UFFDIO_COPY from a prepared page, until stopped.
class FaultHandler {
 public:
  explicit FaultHandler(int uffd) : uffd_(uffd), source_(Mapping::anonymous(page_size(), Backing::kBasePages)) {
    std::memset(source_.data(), kCopiedByte, page_size());
    thread_ = std::thread([this] { serve(); });
  }
  ~FaultHandler() {
    stop_ = true;
    thread_.join();
  }
  FaultHandler(const FaultHandler&) = delete;
  FaultHandler& operator=(const FaultHandler&) = delete;
  int64_t handled() const { return handled_.load(); }
  int64_t failed() const { return failed_.load(); }

 private:
  void serve() {
    while (!stop_.load(std::memory_order_relaxed)) {
      pollfd p{uffd_, POLLIN, 0};
      if (poll(&p, 1, 10) <= 0) continue;
      uffd_msg msg{};
      if (read(uffd_, &msg, sizeof msg) != static_cast<ssize_t>(sizeof msg)) continue;
      if (msg.event != UFFD_EVENT_PAGEFAULT) continue;
      const uint64_t page = msg.arg.pagefault.address & ~static_cast<uint64_t>(page_size() - 1);
      bool ok = false;
      if (msg.arg.pagefault.flags & UFFD_PAGEFAULT_FLAG_MINOR) {
        // Minor mode: the page is in the page cache already; map it as it is.
        uffdio_continue cont{};
        cont.range.start = page;
        cont.range.len = page_size();
        ok = ioctl(uffd_, UFFDIO_CONTINUE, &cont) == 0;
      } else {
        uffdio_copy copy{};
        copy.dst = page;
        copy.src = reinterpret_cast<uint64_t>(source_.data());
        copy.len = page_size();
        ok = ioctl(uffd_, UFFDIO_COPY, &copy) == 0;
      }
      (ok ? handled_ : failed_).fetch_add(1);
    }
  }
  int uffd_;
  Mapping source_;
  std::atomic<bool> stop_{false};
  std::atomic<int64_t> handled_{0}, failed_{0};
  std::thread thread_;
};

// Whether every page of a mapping is in memory (mincore).
bool all_resident(const Mapping& mapping) {
  std::vector<unsigned char> in_core(mapping.size() / page_size());
  if (mincore(mapping.data(), mapping.size(), in_core.data()) != 0) return false;
  return std::all_of(in_core.begin(), in_core.end(), [](unsigned char c) { return c & 1; });
}

// The region a row faults on: anonymous memory (missing mode), or a shmem file mapped twice,
// the second mapping having filled the page cache, the first registered in minor mode.
struct Region {
  Mapping mapping, filler;
  int memfd = -1;
  ~Region() {
    if (memfd >= 0) close(memfd);
  }
};

void uffd_row(benchmark::State& state, bool minor) {
  std::string why;
  const int uffd = open_userfaultfd(&why);
  if (uffd < 0) {
    skip(state, why);
    return;
  }
  uffdio_api api{};
  api.api = UFFD_API;
#ifdef UFFD_FEATURE_MINOR_SHMEM
  if (minor) api.features = UFFD_FEATURE_MINOR_SHMEM;
#endif
  Region space;
  if (minor) {
    space.memfd = memfd_create("pageladder-uffd", MFD_CLOEXEC);
    if (space.memfd < 0 || ftruncate(space.memfd, static_cast<off_t>(kPages * page_size())) != 0) {
      skip(state, fmt::format("no shmem file for minor mode: {}", std::strerror(errno)));
      close(uffd);
      return;
    }
    space.mapping = Mapping::file(space.memfd, kPages * page_size(), PROT_READ | PROT_WRITE, MAP_SHARED);
    space.filler = Mapping::file(space.memfd, kPages * page_size(), PROT_READ | PROT_WRITE, MAP_SHARED);
    for (size_t i = 0; i < kPages; ++i)  // the page cache, with content to find again
      std::memset(space.filler.data() + i * page_size(), kPageCacheByte, page_size());
  } else {
    space.mapping = Mapping::anonymous(kPages * page_size(), Backing::kBasePages);
  }
  Mapping& region = space.mapping;
  uffdio_register reg{};
  reg.range.start = reinterpret_cast<uint64_t>(region.data());
  reg.range.len = region.size();
#ifdef UFFDIO_REGISTER_MODE_MINOR
  reg.mode = minor ? UFFDIO_REGISTER_MODE_MINOR : UFFDIO_REGISTER_MODE_MISSING;
#else
  if (minor) {
    skip(state, "these kernel headers have no userfaultfd minor mode");
    close(uffd);
    return;
  }
  reg.mode = UFFDIO_REGISTER_MODE_MISSING;
#endif
  if (ioctl(uffd, UFFDIO_API, &api) != 0 || ioctl(uffd, UFFDIO_REGISTER, &reg) != 0) {
    skip(state, fmt::format("userfaultfd {} registration failed: {}{}", minor ? "minor-mode" : "missing-mode",
                            std::strerror(errno),
                            minor ? " (minor mode on shmem needs Linux 5.14 and UFFD_FEATURE_MINOR_SHMEM)" : ""));
    close(uffd);
    return;
  }
  {
    const FaultHandler handler(uffd);
    EventRun run(state);
    int64_t handled_before = 0;
    uint64_t events = 0;
    int64_t userfaults = 0;
    uint64_t right_content = 0;
    const char source_byte = minor ? kPageCacheByte : kCopiedByte;
    run_batched_events(
        state, run,
        [&] {
          region.advise(MADV_DONTNEED);  // every page unmapped again (shmem: the page cache stays)
          // Minor mode claims the page was in memory: one swapped out would come back through a
          // swap-in that satisfies every count (a fault, a message, the same content).
          if (minor && !all_resident(space.filler))
            run.invalidate("shmem pages left memory before a batch (swapped out?)");
          handled_before = handler.handled();
          return kPages;
        },
        [&](size_t i) { touch_write(region.data() + i * page_size(), kWrittenByte); },
        [&](size_t n) {
          // The handler counts a copy after the ioctl returns, which is after the faulting
          // thread may already have moved on: give the last count a moment to land.
          for (int wait = 0; wait < 1000 && handler.handled() - handled_before < static_cast<int64_t>(n); ++wait)
            std::this_thread::yield();
          userfaults += handler.handled() - handled_before;
          for (size_t i = 0; i < n; ++i) {
            const char* page = region.data() + i * page_size();
            right_content += touch_read(page) == kWrittenByte && touch_read(page + page_size() / 2) == source_byte;
          }
          events += n;
        });
    if (handler.failed()) run.invalidate(fmt::format("{} UFFDIO_COPY calls failed", handler.failed()));
    // Divided, not multiplied by 1/events: n * (1/n) is not always exactly 1.
    const auto per_event = [&](double count) { return events ? count / static_cast<double>(events) : 0; };
    run.set_counter("userfaults_per_event", per_event(static_cast<double>(userfaults)));
    run.set_counter("right_content_per_event", per_event(static_cast<double>(right_content)));
    run.note(minor ? "minor mode on shmem: the page is in the page cache, mapped by UFFDIO_CONTINUE"
                   : "missing-page mode, resolved by a handler thread with UFFDIO_COPY");
    run.finish();
  }
  close(uffd);
}

void register_rows() {
  // One fault per event, of either class (6.1 counts it major, later kernels minor), one fault
  // message handled, and the page's content right afterwards.
  const std::vector<Claim> claims = {{"faults_per_event", {0.99, 1.01}},
                                     {"userfaults_per_event", {1, 1}},
                                     {"right_content_per_event", {1, 1}}};
  add_row({.id = "uffd_fault",
           .label = "first write to a userfaultfd-registered page: the fault resolved by a "
                    "handler thread with UFFDIO_COPY",
           .family = "signals",
           .event = "one write to a missing page, resolved in user space",
           .claims = claims,
           .ladder_rank = 280, .headline = true, .anatomy = true,
           .min_kernel = "4.3: userfaultfd (unprivileged, through UFFD_USER_MODE_ONLY: 5.11)"},
          [](benchmark::State& st) { uffd_row(st, false); });
  add_row({.id = "uffd_fault_minor",
           .label = "first touch of a mapped shmem page registered in userfaultfd minor mode: "
                    "the page cache page mapped by a handler thread with UFFDIO_CONTINUE",
           .family = "signals",
           .event = "one write to an unmapped page-cache page, resolved in user space",
           .claims = claims,
           .ladder_rank = 290, .anatomy = true,
           .min_kernel = "5.14: userfaultfd minor mode on shmem"},
          [](benchmark::State& st) { uffd_row(st, true); });
}

const Registrar registrar(register_rows);

}  // namespace
}  // namespace pageladder
