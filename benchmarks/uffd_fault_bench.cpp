// uffd_fault_bench: a page fault resolved in user space, through userfaultfd.
//
// A region registered with userfaultfd in missing-page mode: the first touch of an absent page
// makes the kernel queue a fault message on the userfaultfd and put the faulting thread to sleep
// (handle_userfault); a handler thread reads the message, fills the page with UFFDIO_COPY (the
// kernel allocates it, copies 4 KiB in and maps it, waking the faulting thread), and the fault
// is retried and completes. This is how live migration, snapshot restore and CRIU's lazy pages
// bring memory in. One event = one such first write, timed in the faulting thread.
//
// Where the threads run decides much of that time, so it is fixed and recorded, never left to
// the scheduler: the faulting thread is pinned to the first CPU this process may use, the
// handler to the second (or to the same one). Rows:
//   uffd_fault           handler on another CPU, sleeping in poll(): the fault, the handler's
//                        wake-up (an IPI to its CPU), the copy, the faulting thread's wake-up
//   uffd_fault_spin      handler on another CPU reading the non-blocking userfaultfd in a loop:
//                        the mechanism without the handler's wake-up (claimed: it never slept)
//   uffd_fault_same_cpu  both on one CPU: the handler runs only once the faulting thread gives
//                        up the CPU (claimed: it switched out on every event), two switches per event
//   uffd_fault_minor     minor mode on shmem (5.14+): the page is in the page cache, and
//                        UFFDIO_CONTINUE maps it; handler as in uffd_fault
// Verified per event, on what holds on every kernel: one fault, one fault message handled (the
// handler counts them, on its own CPU throughout), and, after the batch, each event's page
// holding the handler's content beside the write. The faulting thread's context switches and
// the handler's voluntary ones (it slept) per event are recorded. The class of the fault is recorded, not required: Linux 6.1
// counts it as major (the fault is retried after the handler's wake-up, and a retried fault was
// accounted major), later kernels as minor. Pages are dropped with MADV_DONTNEED between batches
// (the registration stays). Without permission (vm.unprivileged_userfaultfd 0, no
// CAP_SYS_PTRACE) or kernel support the rows skip with the reason, and so do the two-CPU rows
// where the process may use one CPU. Not modelled: write-protect mode, many faulting threads,
// the handler on another machine (the network).
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <optional>
#include <thread>
#include <vector>

#include <benchmark/benchmark.h>
#include <fmt/format.h>

#include "core/cpus.hpp"
#include "core/event_run.hpp"
#include "core/flags.hpp"
#include "core/mapping.hpp"
#include "core/sysfs.hpp"

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

// How the handler waits for the next fault message.
enum class Waiting {
  kSleeping,  // in poll(): each fault wakes it (a context switch on its CPU)
  kSpinning,  // reading the non-blocking userfaultfd in a loop: no wake-up, a CPU spent on it
};

// Where the two threads run: the faulting thread and the handler on two CPUs, or on one (the
// handler can only run once the faulting thread sleeps).
enum class Placement { kTwoCpus, kOneCpu };

// A thread's context switches so far, from /proc: voluntary ones (it blocked) or all of them (a
// thread about to block can be preempted by the very thread it woke, on a preemptible kernel:
// then the switch is counted involuntary, and the block that follows finds it running).
std::optional<int64_t> context_switches(pid_t tid, bool voluntary_only) {
  const std::string status = fmt::format("/proc/self/task/{}/status", tid);
  const auto voluntary = read_keyed_integer(status, "voluntary_ctxt_switches");
  if (voluntary_only || !voluntary) return voluntary;
  const auto involuntary = read_keyed_integer(status, "nonvoluntary_ctxt_switches");
  return involuntary ? std::optional<int64_t>(*voluntary + *involuntary) : std::nullopt;
}

// Reads fault messages and resolves each with UFFDIO_COPY from a prepared page (UFFDIO_CONTINUE
// in minor mode), on its CPU, until stopped.
class FaultHandler {
 public:
  FaultHandler(int uffd, int cpu, Waiting waiting)
      : uffd_(uffd), cpu_(cpu), waiting_(waiting),
        source_(Mapping::anonymous(page_size(), Backing::kBasePages)) {
    std::memset(source_.data(), kCopiedByte, page_size());
    thread_ = std::thread([this] { serve(); });
    while (tid_.load() == 0) std::this_thread::yield();
  }
  ~FaultHandler() {
    stop_ = true;
    thread_.join();
  }
  FaultHandler(const FaultHandler&) = delete;
  FaultHandler& operator=(const FaultHandler&) = delete;
  int64_t handled() const { return handled_.load(); }
  int64_t failed() const { return failed_.load(); }
  pid_t tid() const { return tid_.load(); }
  // Messages handled on a CPU other than its own (0 unless pinning failed).
  int64_t elsewhere() const { return elsewhere_.load(); }

 private:
  void serve() {
    if (!pin_this_thread(cpu_)) elsewhere_ = 1;
    tid_ = gettid();
    while (!stop_.load(std::memory_order_relaxed)) {
      if (waiting_ == Waiting::kSleeping) {
        pollfd p{uffd_, POLLIN, 0};
        if (poll(&p, 1, 10) <= 0) continue;
      }
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
      if (sched_getcpu() != cpu_) elsewhere_.fetch_add(1);
      (ok ? handled_ : failed_).fetch_add(1);
    }
  }
  int uffd_;
  int cpu_;
  Waiting waiting_;
  Mapping source_;
  std::atomic<bool> stop_{false};
  std::atomic<pid_t> tid_{0};
  std::atomic<int64_t> handled_{0}, failed_{0}, elsewhere_{0};
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

// How a row's fault is resolved: which mode, how the handler waits, where the threads run.
struct Resolution {
  bool minor = false;
  Waiting waiting = Waiting::kSleeping;
  Placement placement = Placement::kTwoCpus;
};

void uffd_row(benchmark::State& state, Resolution how) {
  const bool minor = how.minor;
  const std::vector<int> cpus = usable_cpus();
  if (cpus.empty() || (how.placement == Placement::kTwoCpus && cpus.size() < 2)) {
    skip(state, fmt::format("the faulting thread and the handler need two CPUs; this process may use {} "
                            "(a run pinned with CPU=<n>?)", cpus.size()));
    return;
  }
  const int fault_cpu = cpus[0], handler_cpu = how.placement == Placement::kTwoCpus ? cpus[1] : cpus[0];
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
    const PinnedFor pinned(fault_cpu);
    const FaultHandler handler(uffd, handler_cpu, how.waiting);
    EventRun run(state);
    int64_t handled_before = 0;
    uint64_t events = 0;
    int64_t userfaults = 0;
    uint64_t right_content = 0;
    // Context switches of the faulting thread (all: it gave up its CPU) and voluntary ones of
    // the handler (it slept), over the batches: [0] at the batch's start, [1] summed.
    const pid_t faulting_tid = gettid();
    int64_t fault_switches[2] = {0, 0}, handler_switches[2] = {0, 0};
    bool switches_known = true;
    const auto switches_now = [&](int64_t* faulting, int64_t* handling) {
      const auto f = context_switches(faulting_tid, false), h = context_switches(handler.tid(), true);
      switches_known = switches_known && f && h;
      *faulting = f.value_or(0);
      *handling = h.value_or(0);
    };
    const char source_byte = minor ? kPageCacheByte : kCopiedByte;
    run_batched_events(
        state, run,
        [&] {
          region.advise(MADV_DONTNEED);  // every page unmapped again (shmem: the page cache stays)
          // Minor mode claims the page was in memory: one swapped out would come back through a
          // swap-in that satisfies every count (a fault, a message, the same content).
          if (minor && !all_resident(space.filler))
            run.invalidate("shmem pages left memory before a batch (swapped out?)");
          // The page cache outlives the batch (shmem): each page's first byte is set back through
          // the mapping no userfaultfd watches, so only this batch's own writes can make the
          // content check hold (issue 33: the byte of an earlier batch would satisfy it).
          if (minor)
            for (size_t i = 0; i < kPages; ++i) space.filler.data()[i * page_size()] = kPageCacheByte;
          handled_before = handler.handled();
          switches_now(&fault_switches[0], &handler_switches[0]);
          return kPages;
        },
        [&](size_t i) { touch_write(region.data() + i * page_size(), kWrittenByte); },
        [&](size_t n) {
          // The handler counts a copy after the ioctl returns, which is after the faulting
          // thread may already have moved on: give the last count a moment to land.
          for (int wait = 0; wait < 1000 && handler.handled() - handled_before < static_cast<int64_t>(n); ++wait)
            std::this_thread::yield();
          userfaults += handler.handled() - handled_before;
          int64_t faulting = 0, handling = 0;
          switches_now(&faulting, &handling);
          fault_switches[1] += faulting - fault_switches[0];
          handler_switches[1] += handling - handler_switches[0];
          for (size_t i = 0; i < n; ++i) {
            const char* page = region.data() + i * page_size();
            right_content += touch_read(page) == kWrittenByte && touch_read(page + page_size() / 2) == source_byte;
          }
          events += n;
        });
    if (handler.failed()) run.invalidate(fmt::format("{} UFFDIO_COPY calls failed", handler.failed()));
    if (!pinned.ok()) run.invalidate(fmt::format("the faulting thread could not be pinned to CPU {}", fault_cpu));
    if (handler.elsewhere())
      run.invalidate(fmt::format("the handler was not on CPU {} throughout ({} faults handled elsewhere)",
                                 handler_cpu, handler.elsewhere()));
    // Divided, not multiplied by 1/events: n * (1/n) is not always exactly 1.
    const auto per_event = [&](double count) { return events ? count / static_cast<double>(events) : 0; };
    run.set_counter("userfaults_per_event", per_event(static_cast<double>(userfaults)));
    run.set_counter("right_content_per_event", per_event(static_cast<double>(right_content)));
    if (switches_known) {
      run.set_counter("fault_thread_switches_per_event", per_event(static_cast<double>(fault_switches[1])));
      run.set_counter("handler_sleeps_per_event", per_event(static_cast<double>(handler_switches[1])));
    } else {
      for (const char* counter : {"fault_thread_switches_per_event", "handler_sleeps_per_event"})
        run.cannot_verify(counter, "no voluntary_ctxt_switches in /proc/self/task/<tid>/status");
    }
    run.set_counter("fault_cpu", fault_cpu);
    run.set_counter("handler_cpu", handler_cpu);
    run.note(fmt::format("{}; faulting thread pinned to CPU {}, handler to CPU {}, {}",
                         minor ? "minor mode on shmem: the page is in the page cache, mapped by UFFDIO_CONTINUE"
                               : "missing-page mode, resolved by a handler thread with UFFDIO_COPY",
                         fault_cpu, handler_cpu,
                         how.waiting == Waiting::kSpinning ? "spinning on the userfaultfd (no wake-up)"
                                                           : "sleeping in poll() between faults"));
    run.finish();
  }
  close(uffd);
}

std::vector<Claim> with(std::vector<Claim> claims, const std::vector<Claim>& more) {
  claims.insert(claims.end(), more.begin(), more.end());
  return claims;
}

void register_rows() {
  // One fault per event, of either class (6.1 counts it major, later kernels minor), one fault
  // message handled, and the page's content right afterwards.
  const std::vector<Claim> claims = {{"faults_per_event", {0.99, 1.01}},
                                     {"userfaults_per_event", {1, 1}},
                                     {"right_content_per_event", {1, 1}}};
  add_row({.id = "uffd_fault",
           .label = "first write to a userfaultfd-registered page: the fault resolved by a "
                    "handler thread on another CPU, woken from poll(), with UFFDIO_COPY",
           .family = "signals",
           .event = "one write to a missing page, resolved in user space",
           .claims = claims,
           .ladder_rank = 280, .headline = true, .anatomy = true,
           .needs = "userfaultfd (4.3); unprivileged through UFFD_USER_MODE_ONLY from 5.11 (before: "
                    "vm.unprivileged_userfaultfd=1, root or CAP_SYS_PTRACE); a second CPU"},
          [](benchmark::State& st) { uffd_row(st, {}); });
  // The mechanism without the handler's wake-up: its point is that the handler never sleeps.
  add_row({.id = "uffd_fault_spin",
           .label = "first write to a userfaultfd-registered page: the fault resolved by a "
                    "handler spinning on another CPU (no wake-up), with UFFDIO_COPY",
           .family = "signals",
           .event = "one write to a missing page, resolved in user space",
           .claims = with(claims, {{"handler_sleeps_per_event", {0, 0.05}}}),
           .ladder_rank = 283, .anatomy = true,
           .needs = "as uffd_fault: userfaultfd, and a second CPU for the spinning handler"},
          [](benchmark::State& st) { uffd_row(st, {.waiting = Waiting::kSpinning}); });
  // Both threads on one CPU: the handler runs only once the faulting thread gives up the CPU, so
  // each event is two context switches on it, one of them the faulting thread's, every time.
  add_row({.id = "uffd_fault_same_cpu",
           .label = "first write to a userfaultfd-registered page: the fault resolved by a "
                    "handler thread on the same CPU, with UFFDIO_COPY",
           .family = "signals",
           .event = "one write to a missing page, resolved in user space",
           .claims = with(claims, {{"fault_thread_switches_per_event", {0.99, kUnbounded}}}),
           .ladder_rank = 286, .anatomy = true,
           .needs = "as uffd_fault: userfaultfd (one CPU is enough)"},
          [](benchmark::State& st) { uffd_row(st, {.placement = Placement::kOneCpu}); });
  add_row({.id = "uffd_fault_minor",
           .label = "first touch of a mapped shmem page registered in userfaultfd minor mode: "
                    "the page cache page mapped by a handler thread on another CPU with UFFDIO_CONTINUE",
           .family = "signals",
           .event = "one write to an unmapped page-cache page, resolved in user space",
           .claims = claims,
           .ladder_rank = 290, .anatomy = true,
           .needs = "userfaultfd minor mode on shmem (5.14); a second CPU"},
          [](benchmark::State& st) { uffd_row(st, {.minor = true}); });
}

const Registrar registrar(register_rows);

}  // namespace
}  // namespace pageladder
