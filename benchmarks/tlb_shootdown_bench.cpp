// tlb_shootdown_bench: what changing a mapping costs when another CPU may have cached it.
//
// munmap of one populated 4 KiB page: the kernel clears the PTE, and before the page can be
// freed every CPU that may hold the translation must drop it. With another thread of this process
// running on another CPU, that CPU is in the mm's CPU mask: the unmapping CPU sends it an IPI and
// waits for the remote flush (the TLB shootdown). Rows:
//   tlb_shootdown     munmap of a 4 KiB page while a thread of this process spins on another CPU
//   ref_local_flush   the same munmap with no other thread: the local flush only (reference)
// The difference is the shootdown. Each event unmaps one page of a populated batch (mapped and
// touched outside the timed region). Verified per event: the remote CPU's "TLB shootdowns" count
// in /proc/interrupts (at least 0.5 per munmap with the spinner, under 0.1 without; the share
// that had one is noted), and the
// spinner really ran on its CPU throughout (its heartbeat advanced, sched_getcpu). The CPUs are
// recorded. Not modelled: more than one remote CPU (a 2-CPU machine has one), mprotect, huge
// pages, PCID/INVPCID and paravirtual flush differences (recorded with the machine).
#include <pthread.h>
#include <sched.h>
#include <sys/mman.h>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <optional>
#include <sstream>
#include <thread>

#include <benchmark/benchmark.h>
#include <fmt/format.h>

#include "core/event_run.hpp"
#include "core/flags.hpp"
#include "core/mapping.hpp"

namespace pageladder {
namespace {

constexpr size_t kPages = 512;

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

std::optional<std::pair<int, int>> two_cpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) != 0) return std::nullopt;
  std::vector<int> cpus;
  for (int c = 0; c < CPU_SETSIZE; ++c)
    if (CPU_ISSET(c, &set)) cpus.push_back(c);
  if (cpus.size() < 2) return std::nullopt;
  return std::pair{cpus[0], cpus[1]};
}

void pin_this_thread(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  pthread_setaffinity_np(pthread_self(), sizeof set, &set);
}

// Pins the calling thread for a row and gives it back the CPUs it had (Google Benchmark calls a
// row several times: the next call must find every CPU again).
class PinnedFor {
 public:
  explicit PinnedFor(int cpu) {
    pthread_getaffinity_np(pthread_self(), sizeof before_, &before_);
    pin_this_thread(cpu);
  }
  ~PinnedFor() { pthread_setaffinity_np(pthread_self(), sizeof before_, &before_); }
  PinnedFor(const PinnedFor&) = delete;
  PinnedFor& operator=(const PinnedFor&) = delete;

 private:
  cpu_set_t before_;
};

// A thread of this process that spins on `cpu`, so the mm is live there, until stopped.
class Spinner {
 public:
  explicit Spinner(int cpu) : thread_([this, cpu] {
    pin_this_thread(cpu);
    ran_on_ = sched_getcpu();
    while (!stop_.load(std::memory_order_relaxed)) beats_.fetch_add(1, std::memory_order_relaxed);
  }) {
    while (beats_.load() == 0) std::this_thread::yield();
  }
  ~Spinner() {
    stop_ = true;
    thread_.join();
  }
  uint64_t beats() const { return beats_.load(std::memory_order_relaxed); }
  int ran_on() const { return ran_on_; }

 private:
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> beats_{0};
  std::atomic<int> ran_on_{-1};
  std::thread thread_;
};

void unmap_row(benchmark::State& state, bool remote) {
  const auto cpus = two_cpus();
  if (!cpus) {
    skip(state, "this process may run on one CPU only (one CPU, or CPU= pins it): no other CPU to shoot down");
    return;
  }
  const auto [local, other] = *cpus;
  const PinnedFor pinned(local);
  std::optional<Spinner> spinner;
  if (remote) spinner.emplace(other);
  EventRun run(state, {});
  if (!shootdowns_on(other)) run.cannot_verify("remote_flushes_per_event", "/proc/interrupts shows no TLB shootdowns");
  char* region = nullptr;
  int64_t flushes = 0;
  std::optional<int64_t> flushes_before;
  uint64_t beats_before = 0, events = 0;
  run_batched_events(
      state, run,
      [&] {
        void* p = mmap(nullptr, kPages * page_size(), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED) throw std::runtime_error("mmap failed");
        region = static_cast<char*>(p);
        madvise(region, kPages * page_size(), MADV_NOHUGEPAGE);
        for (size_t i = 0; i < kPages; ++i) touch_write(region + i * page_size());
        flushes_before = shootdowns_on(other);
        if (spinner) beats_before = spinner->beats();
        return kPages;
      },
      [&](size_t i) { munmap(region + i * page_size(), page_size()); },
      [&](size_t n) {
        const auto after = shootdowns_on(other);
        if (after && flushes_before) flushes += *after - *flushes_before;
        if (spinner && spinner->beats() == beats_before)
          run.invalidate("the other thread did not run during the batch");
        events += n;
        munmap(region, kPages * page_size());  // whatever is left of it
      });
  if (shootdowns_on(other) && events) {
    const double per_event = static_cast<double>(flushes) / static_cast<double>(events);
    run.set_counter("remote_flushes_per_event", per_event);
    if (remote && per_event < 0.95)
      run.note(fmt::format("{:.0f}% of the munmaps sent CPU {} a flush IPI (a preempted vCPU is flushed without one)",
                           100 * std::min(per_event, 1.0), other));
  }
  run.set_counter("local_cpu", local);
  run.set_counter("remote_cpu", other);
  if (spinner && spinner->ran_on() != other)
    run.invalidate(fmt::format("the other thread ran on CPU {}, not {}", spinner->ran_on(), other));
  run.note(remote ? fmt::format("munmap on CPU {} while a thread of this process spins on CPU {}", local, other)
                  : fmt::format("munmap on CPU {}, no other thread: local flush only", local));
  run.finish();
}

void register_rows() {
  std::vector<Claim> remote = fault_claims({0, 0}, {0, 0}), local = remote;
  // Under a hypervisor with paravirtual TLB flush, a remote vCPU the host has preempted is
  // flushed without an IPI, so a few munmaps may send none: most must.
  remote.push_back({"remote_flushes_per_event", {0.5, kUnbounded}});
  local.push_back({"remote_flushes_per_event", {0, 0.1}});
  add_row({.id = "tlb_shootdown",
           .label = "munmap of a populated 4 KiB page while a thread of this process runs on "
                    "another CPU (a remote TLB flush)",
           .family = "tlb",
           .event = "one munmap of one page",
           .claims = remote},
          [](benchmark::State& s) { unmap_row(s, true); });
  add_row({.id = "ref_local_flush",
           .label = "munmap of a populated 4 KiB page with no other thread: local TLB flush "
                    "only (reference)",
           .family = "reference",
           .event = "one munmap of one page",
           .claims = local},
          [](benchmark::State& s) { unmap_row(s, false); });
}

const Registrar registrar(register_rows);

}  // namespace
}  // namespace pageladder
