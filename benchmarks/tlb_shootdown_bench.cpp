// tlb_shootdown_bench: what changing a mapping costs when another CPU may have cached it.
//
// munmap of one populated 4 KiB page: the kernel clears the PTE, and before the page can be
// freed every CPU that may hold the translation must drop it. With another thread of this process
// running on another CPU, that CPU is in the mm's CPU mask: the unmapping CPU sends it an IPI and
// waits for the remote flush (the TLB shootdown). Rows:
//   tlb_shootdown     munmap of a 4 KiB page while a thread of this process spins on another CPU
//   ref_local_flush   the same munmap while another process spins on that CPU: the same
//                     contention, no TLB of this process there, the local flush only (control)
//   tlb_shootdown_<k>_cpus  with threads spinning on k other CPUs (2, 4, ... as the machine has)
// The difference is the shootdown. Each event unmaps one page of a populated batch (mapped and
// touched outside the timed region), once every spinner is seen running. A spinner runs at a
// real-time priority where the process may set one (root), so a neighbour on its CPU cannot take
// the CPU, and with it the mm, away from it mid-batch (without one the row says so). Verified per
// event: the remote CPU's "TLB shootdowns" count in /proc/interrupts (at least 0.95 per munmap
// with the spinner, under 0.1 for the control), over the batches in which every spinner kept its
// CPU: its heartbeat advanced and, at a real-time priority, the kernel counted no involuntary
// switch of it (nonvoluntary_ctxt_switches in its own /proc status, before and after the batch);
// sched_getcpu at its start. A batch in which one did not is thrown away and run again (four
// tries); the row is invalid when no clean batch could be had for one of its batches (its times
// would be the row's, its flushes unproven). The CPUs are recorded. A
// machine whose remote flushes send no IPI at all (an untimed probe of 64 munmaps with the
// spinner running: a paravirtual flush, AMD's INVLPGB) skips the shootdown rows with the reason.
// Not modelled: mprotect, huge pages, PCID/INVPCID and paravirtual flush differences (recorded
// with the machine).
#include <pthread.h>
#include <sched.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <atomic>
#include <chrono>
#include <fstream>
#include <memory>
#include <new>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <thread>
#include <vector>

#include <benchmark/benchmark.h>
#include <fmt/format.h>

#include "core/child_process.hpp"
#include "core/cpus.hpp"
#include "core/event_run.hpp"
#include "core/flags.hpp"
#include "core/mapping.hpp"
#include "core/sysfs.hpp"

namespace pageladder {
namespace {

constexpr size_t kPages = 512;
// Tries per batch before one in which a spinner was off its CPU is kept anyway (run_clean_batches).
constexpr int kTries = 4;

// The "TLB shootdowns" interrupts /proc/interrupts counts on `cpu`, if it shows them.
std::optional<int64_t> shootdowns_on(int cpu) {
  std::ifstream in("/proc/interrupts");
  std::string header, line;
  std::getline(in, header);
  int column = -1, index = 0;
  std::istringstream names(header);
  for (std::string name; names >> name; ++index)
    if (name == fmt::format("CPU{}", cpu)) column = index;
  if (column < 0) return std::nullopt;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string label;
    fields >> label;
    if (label != "TLB:") continue;
    int64_t value = 0;
    for (int k = 0; k <= column && fields >> value; ++k) {
    }
    return value;
  }
  return std::nullopt;
}

// How often the kernel took the CPU from task `tid` of process `pid` (its own count of involuntary
// context switches), or nullopt where /proc does not say.
std::optional<int64_t> involuntary_switches(pid_t pid, pid_t tid) {
  return read_keyed_integer(fmt::format("/proc/{}/task/{}/status", pid, tid), "nonvoluntary_ctxt_switches");
}

// Pins the calling spinner to `cpu` and, once it is there, gives it the lowest real-time priority,
// so it keeps that CPU against ordinary tasks. Returns 0, or the errno that refused the priority
// (EPERM: not root, no RLIMIT_RTPRIO; or a real-time group without a budget), or EINVAL when it
// could not be pinned: a real-time spinner on the timing CPU would starve the timed thread.
int pin_and_take_realtime_priority(int cpu) {
  if (!pin_this_thread(cpu) || sched_getcpu() != cpu) return EINVAL;
  sched_param param{};
  param.sched_priority = 1;
  return pthread_setschedparam(pthread_self(), SCHED_FIFO, &param);
}

// Something spinning on another CPU: its heartbeat (it ran), the CPU it found itself on, how often
// it was switched out against its will, and whether it runs at a real-time priority.
class Spinner {
 public:
  virtual ~Spinner() = default;
  virtual uint64_t beats() const = 0;
  virtual int ran_on() const = 0;
  virtual std::optional<int64_t> switched_out() const = 0;
  // 0 when it runs at a real-time priority, else the errno that refused it.
  virtual int realtime_error() const = 0;
};

// A thread of this process that spins on `cpu`, so the mm is live there, until stopped.
class ThreadSpinner : public Spinner {
 public:
  explicit ThreadSpinner(int cpu) : thread_([this, cpu] {
    realtime_error_ = pin_and_take_realtime_priority(cpu);
    tid_ = gettid();
    ran_on_ = sched_getcpu();
    while (!stop_.load(std::memory_order_relaxed)) beats_.fetch_add(1, std::memory_order_relaxed);
  }) {
    while (beats_.load() == 0) std::this_thread::yield();
  }
  ~ThreadSpinner() override {
    stop_ = true;
    thread_.join();
  }
  uint64_t beats() const override { return beats_.load(std::memory_order_relaxed); }
  int ran_on() const override { return ran_on_; }
  std::optional<int64_t> switched_out() const override { return involuntary_switches(getpid(), tid_); }
  int realtime_error() const override { return realtime_error_; }

 private:
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> beats_{0};
  std::atomic<int> ran_on_{-1};
  std::atomic<pid_t> tid_{0};
  std::atomic<int> realtime_error_{0};
  std::thread thread_;
};

// The same spinning in a forked process: the same contention for `cpu`, but another mm there,
// so this process's munmaps have no TLB on it to flush (the control). Its heartbeat is in a
// shared page.
class ProcessSpinner : public Spinner {
 public:
  explicit ProcessSpinner(int cpu) {
    void* p = mmap(nullptr, sizeof(Heart), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) throw std::runtime_error("mmap of the spinner's heartbeat failed");
    heart_ = new (p) Heart;
    Heart* heart = heart_;
    child_ = std::make_unique<ChildProcess>([heart, cpu](int, int) {
      heart->realtime_error = pin_and_take_realtime_priority(cpu);
      heart->cpu = sched_getcpu();
      while (!heart->stop.load(std::memory_order_relaxed)) heart->beats.fetch_add(1, std::memory_order_relaxed);
      return 0;
    });
    while (heart_->beats.load() == 0) std::this_thread::yield();
  }
  ~ProcessSpinner() override {
    heart_->stop = true;
    child_->wait();
    munmap(heart_, sizeof(Heart));
  }
  uint64_t beats() const override { return heart_->beats.load(std::memory_order_relaxed); }
  int ran_on() const override { return heart_->cpu.load(); }
  std::optional<int64_t> switched_out() const override {
    return involuntary_switches(child_->pid(), child_->pid());
  }
  int realtime_error() const override { return heart_->realtime_error.load(); }

 private:
  struct Heart {
    std::atomic<bool> stop{false};
    std::atomic<uint64_t> beats{0};
    std::atomic<int> cpu{-1};
    std::atomic<int> realtime_error{0};
  };
  static_assert(std::atomic<uint64_t>::is_always_lock_free);  // shared between processes
  Heart* heart_ = nullptr;
  std::unique_ptr<ChildProcess> child_;
};

// Why this machine cannot show the IPI shootdown, or nothing: a probe of kProbePages munmaps,
// untimed, while the spinners ran throughout, and not one flush IPI reached their CPUs. The
// remote flush is then done another way (a hypervisor's paravirtual flush, as under PVM; a
// broadcast invalidation such as AMD's INVLPGB): there is no shootdown IPI to time.
constexpr size_t kProbePages = 64;
template <typename Ipis>
std::optional<std::string> flushes_without_ipis(const std::vector<std::unique_ptr<Spinner>>& spinners, Ipis ipis) {
  void* p = mmap(nullptr, kProbePages * page_size(), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return std::nullopt;
  char* probe = static_cast<char*>(p);
  for (size_t i = 0; i < kProbePages; ++i) touch_write(probe + i * page_size());
  std::vector<uint64_t> beats;
  for (const auto& s : spinners) beats.push_back(s->beats());
  const auto before = ipis();
  for (size_t i = 0; i < kProbePages; ++i) munmap(probe + i * page_size(), page_size());
  const auto after = ipis();
  for (size_t k = 0; k < spinners.size(); ++k)
    if (spinners[k]->beats() == beats[k]) return std::nullopt;  // not a clean probe: let the row judge
  if (!before || !after || *after != *before) return std::nullopt;
  return fmt::format("{} munmaps sent no TLB-flush IPI to CPUs running this process: this machine flushes "
                     "remote TLBs without IPIs (a paravirtual flush, or broadcast invalidation such as "
                     "INVLPGB), so there is no shootdown IPI to time", kProbePages);
}

// munmaps on the first usable CPU while `remotes` threads of this process spin on the next ones;
// with none, a forked process spins on the next CPU instead (the control).
void unmap_row(benchmark::State& state, size_t remotes) {
  const std::vector<int> cpus = usable_cpus();
  if (cpus.size() < std::max<size_t>(remotes, 1) + 1) {
    skip(state, fmt::format("this process may run on {} CPU(s) (CPU= pins it to one): {} other CPUs needed",
                            cpus.size(), std::max<size_t>(remotes, 1)));
    return;
  }
  const int local = cpus[0];
  // Without spinners, the CPU watched for stray IPIs is the next one.
  const std::vector<int> others(cpus.begin() + 1, cpus.begin() + 1 + static_cast<long>(std::max<size_t>(remotes, 1)));
  const PinnedFor pinned(local);
  std::vector<std::unique_ptr<Spinner>> spinners;
  for (size_t k = 0; k < remotes; ++k) spinners.push_back(std::make_unique<ThreadSpinner>(others[k]));
  if (!remotes) spinners.push_back(std::make_unique<ProcessSpinner>(others[0]));
  const auto ipis = [&]() -> std::optional<int64_t> {
    int64_t sum = 0;
    for (int cpu : others) {
      const auto n = shootdowns_on(cpu);
      if (!n) return std::nullopt;
      sum += *n;
    }
    return sum;
  };
  if (remotes && ipis())
    if (auto why = flushes_without_ipis(spinners, ipis)) {
      skip(state, *why);
      return;
    }
  EventRun run(state, {});
  if (!ipis()) run.cannot_verify("remote_flushes_per_event", "/proc/interrupts shows no TLB shootdowns");
  char* region = nullptr;
  int64_t flushes = 0;
  std::optional<int64_t> flushes_before;
  std::vector<uint64_t> beats_before(spinners.size());
  std::vector<std::optional<int64_t>> switched_before(spinners.size());
  std::optional<int64_t> flushes_after;
  bool batch_clean = false;
  // Every spinner kept its CPU over the batch: it ran, and, at a real-time priority, the kernel
  // never switched it out. At an ordinary priority the kernel's own threads preempt it now and
  // then even on an idle CPU, so there only the heartbeat is asked for (the flush count judges).
  const auto kept_their_cpus = [&] {
    for (size_t k = 0; k < spinners.size(); ++k) {
      if (spinners[k]->beats() == beats_before[k]) return false;
      if (spinners[k]->realtime_error()) continue;
      const auto now = spinners[k]->switched_out();
      if (!now || !switched_before[k] || *now != *switched_before[k]) return false;
    }
    return true;
  };
  uint64_t clean_events = 0, batches = 0, dirty_batches = 0;
  // Every spinner seen running (its heartbeat advancing) just before a batch starts: populating
  // the region took long enough for the scheduler to have moved it off; waited for, bounded.
  const auto spinners_running = [&] {
    for (int attempt = 0; attempt < 200; ++attempt) {
      std::vector<uint64_t> seen;
      for (const auto& spinner : spinners) seen.push_back(spinner->beats());
      std::this_thread::sleep_for(std::chrono::microseconds(50));
      bool all = true;
      for (size_t k = 0; k < spinners.size(); ++k) all = all && spinners[k]->beats() != seen[k];
      if (all) return;
    }
  };
  // A batch in which a spinner did not run says nothing about the flushes: it is thrown away and
  // armed again (kTries in all), and kept only when no try is clean: then the row is invalid.
  const size_t thrown_away = run_clean_batches(
      state, run, kPages, kTries,
      [&](size_t) {
        void* p = mmap(nullptr, kPages * page_size(), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED) throw std::runtime_error("mmap failed");
        region = static_cast<char*>(p);
        madvise(region, kPages * page_size(), MADV_NOHUGEPAGE);
        for (size_t i = 0; i < kPages; ++i) touch_write(region + i * page_size());
        spinners_running();
        flushes_before = ipis();
        for (size_t k = 0; k < spinners.size(); ++k) {
          beats_before[k] = spinners[k]->beats();
          switched_before[k] = spinners[k]->switched_out();
        }
      },
      [&](size_t i) { munmap(region + i * page_size(), page_size()); },
      [&](size_t) {
        // Judged once, right after the batch, with its flush count read in the same breath: a
        // spinner that resumes later cannot make a dirty batch count as clean. (Reading /proc here
        // allocates, inside the counted region: the arm step has just made the same allocations,
        // so the heap has them; a fault this caused would show in the row's exact fault claim.)
        batch_clean = kept_their_cpus();
        flushes_after = ipis();
        return batch_clean;
      },
      [&](size_t n, bool kept) {
        if (kept) {
          const auto after = flushes_after;
          const bool clean = batch_clean;
          ++batches;
          if (!clean) {
            ++dirty_batches;
          } else {
            if (after && flushes_before) flushes += *after - *flushes_before;
            clean_events += n;
          }
        }
        munmap(region, kPages * page_size());  // whatever is left of it
      });
  run.set_counter("thrown_away_batches", static_cast<double>(thrown_away));
  if (thrown_away)
    run.note(fmt::format("{} batches were thrown away and run again: a spinner was switched off its CPU",
                         thrown_away));
  // A batch kept after every try had a spinner off its CPU: its times are the row's, its flushes
  // unproven, so the row cannot stand on the other batches' claim.
  if (dirty_batches)
    run.invalidate(fmt::format("{} of {} batches had a spinner off its CPU in all {} tries: no clean batch could "
                               "be had for them", dirty_batches, batches, kTries));
  // Per clean event and remote CPU: each munmap should interrupt every CPU running the process.
  const double per_event = clean_events ? static_cast<double>(flushes) / static_cast<double>(clean_events) /
                                              static_cast<double>(std::max<size_t>(remotes, 1))
                                        : 0;
  if (ipis()) run.set_counter("remote_flushes_per_event", per_event);
  int refused = 0;
  for (const auto& spinner : spinners) refused = refused ? refused : spinner->realtime_error();
  run.set_counter("spinner_realtime", refused ? 0 : 1);
  if (refused)
    run.note(fmt::format("the spinners run at an ordinary priority (a real-time one was refused: {}): a busy "
                         "neighbour on their CPU makes batches be thrown away, or the row invalid",
                         std::strerror(refused)));
  run.set_counter("local_cpu", local);
  run.set_counter("remote_cpus", static_cast<double>(remotes));
  for (size_t k = 0; k < spinners.size(); ++k)
    if (spinners[k]->ran_on() != others[k])
      run.invalidate(fmt::format("a spinner ran on CPU {}, not {}", spinners[k]->ran_on(), others[k]));
  run.note(remotes ? fmt::format("munmap on CPU {} while threads of this process spin on CPU {}", local,
                                 fmt::join(others, ", "))
                   : fmt::format("munmap on CPU {} while another process spins on CPU {}: the same contention, "
                                 "no other CPU holding this process's TLB entries (local flush only)",
                                 local, others[0]));
  run.finish();
}

void register_rows() {
  // Every munmap of a batch in which the spinners ran sends each of their CPUs an IPI (a machine
  // that flushes without IPIs skips, flushes_without_ipis); a few may go without one under a
  // hypervisor whose paravirtual flush skips a preempted vCPU.
  std::vector<Claim> remote = fault_claims({0, 0}, {0, 0}), local = remote;
  remote.push_back({"remote_flushes_per_event", {0.95, kUnbounded}});
  local.push_back({"remote_flushes_per_event", {0, 0.1}});
  add_row({.id = "tlb_shootdown",
           .label = "munmap of a populated 4 KiB page while a thread of this process runs on "
                    "another CPU (a remote TLB flush)",
           .family = "tlb",
           .event = "one munmap of one page",
           .claims = remote,
           .defined_by = {"remote_cpus"},
           .ladder_rank = 40, .headline = true, .control = "ref_local_flush",
           .needs = "a second CPU, and remote flushes sent as IPIs: a machine that flushes another CPU's TLB without one (a paravirtual flush, broadcast invalidation) skips it, found by an untimed probe"},
          [](benchmark::State& s) { unmap_row(s, 1); });
  add_row({.id = "ref_local_flush",
           .label = "munmap of a populated 4 KiB page while another process spins on the other "
                    "CPU: local TLB flush only (control)",
           .family = "reference",
           .event = "one munmap of one page",
           .claims = local,
           .ladder_rank = 300,
           .needs = "a second CPU"},
          [](benchmark::State& s) { unmap_row(s, 0); });
  // The curve against the number of remote CPUs, as far as this machine goes (2, 4, 8 ...); its
  // first point is registered everywhere (it skips, saying why, with fewer than 3 CPUs), so the
  // rows a binary describes do not depend on the machine's CPUs.
  for (size_t remotes = 2; remotes == 2 || remotes + 1 <= usable_cpus().size(); remotes *= 2)
    add_row({.id = fmt::format("tlb_shootdown_{}_cpus", remotes),
             .label = fmt::format("munmap of a populated 4 KiB page while threads of this process "
                                  "run on {} other CPUs", remotes),
             .family = "tlb",
             .event = "one munmap of one page",
             .claims = remote,
             .defined_by = {"remote_cpus"},
             .control = "ref_local_flush",
             .needs = "k + 1 CPUs this process may use, and remote flushes sent as IPIs",
             .series = "tlb_shootdown_<k>_cpus",
             .series_label = "munmap of a populated 4 KiB page while threads of this process run on k other CPUs (k = 2, 4, ... as far as the machine goes)"},
            [remotes](benchmark::State& s) { unmap_row(s, remotes); });
}

const Registrar registrar(register_rows);

}  // namespace
}  // namespace pageladder
