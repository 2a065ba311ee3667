// Events timed in a forked child, one child per batch, and recorded by the parent.
//
// Some events can only happen in a child: a write to a page the parent still shares, a fault
// inside a memory cgroup the parent must stay out of. The child times each event with the
// parent's EventClock, counts the faults around the whole timed loop, and sends one report over
// its ChildProcess pipe: a fixed header (event count, faults, and what the benchmark adds in
// `Extra`), then one float of ns per event. The parent records each time as one Google Benchmark
// iteration (EventRun::record_ns) and adds the child's faults to the row.
#pragma once

#include <benchmark/benchmark.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <type_traits>
#include <utility>
#include <vector>

#include "core/child_process.hpp"
#include "core/event_clock.hpp"
#include "core/event_run.hpp"
#include "core/event_windows.hpp"
#include "core/fault_counters.hpp"

namespace pageladder {

// The header a child sends before its times. `Extra` holds what one benchmark also reports
// (copies made, swap-ins ...); it crosses a pipe between two copies of the same binary, so it
// must be trivially copyable.
template <class Extra>
struct BatchReport {
  static_assert(std::is_trivially_copyable_v<Extra>, "sent as bytes over a pipe");
  uint64_t events = 0;
  FaultCount faults;
  Extra extra{};
};

// In the child: times event(resolve(k)) for k < n, each on its own, into ns[k]; resolve(k) runs
// before the clock starts (what the event needs but is not part of it, e.g. the address of its
// page). `ns` must already be faulted in (and locked, where the child locks memory): the stores
// into it are then neither timed nor in the fault count returned, which is the events' own.
template <class Resolve, class Event>
FaultCount time_each_event(const EventClock& clock, float* ns, size_t n, Resolve&& resolve,
                           Event&& event) {
  // The anatomy pass's log, set up before the fault count starts.
  EventWindows* const windows = current_row() ? EventWindows::get() : nullptr;
  if (windows) windows->anchor(current_row()->id, n);
  // A forked child has no page-table entries yet for the binary's and libc's code (fork copies
  // none for file mappings): the first run of the clock and of getrusage would each fault a code
  // page in, inside the count. Run them once before it starts.
  (void)clock.to_ns(clock.stop() - clock.start());
  (void)thread_faults();
  const FaultCount before = thread_faults();
  for (size_t k = 0; k < n; ++k) {
    const auto target = resolve(k);
    const uint64_t t0 = clock.start();
    event(target);
    const uint64_t t1 = clock.stop();
    ns[k] = static_cast<float>(clock.to_ns(t1 - t0));
    if (windows) windows->add(t0, t1);
  }
  const FaultCount after = thread_faults();
  if (windows) windows->flush();
  return {after.minor - before.minor, after.major - before.major};
}

// The same, for events that take their index.
template <class Event>
FaultCount time_each_event(const EventClock& clock, float* ns, size_t n, Event&& event) {
  return time_each_event(clock, ns, n, [](size_t k) { return k; }, std::forward<Event>(event));
}

// In the child: sends the header, then report.events times from `ns`.
template <class Extra>
bool send_batch(int to_parent, const BatchReport<Extra>& report, const float* ns) {
  return write_all(to_parent, &report, sizeof report) &&
         write_all(to_parent, ns, report.events * sizeof(float));
}

// In the parent: reads a child's header and its times into `ns` (resized to the events
// reported). False when the child did not send them all, or claims more than `max_events`.
template <class Extra>
bool receive_batch(ChildProcess& child, size_t max_events, BatchReport<Extra>& report,
                   std::vector<float>& ns) {
  if (!child.read(&report, sizeof report) || report.events > max_events) return false;
  ns.assign(report.events, 0.f);
  return child.read(ns.data(), ns.size() * sizeof(float));
}

// The parent's loop: one iteration per event timed in a child. When the batch at hand is used
// up, `next_batch(left)` runs a child (`left` is the iterations still to go, so a child never
// times events nobody records) and returns its times: fewer than asked is fine, none ends the
// loop; nothing means it has marked the row skipped or failed. Returns how many events were
// recorded, or nothing in that case.
template <class NextBatch>
std::optional<uint64_t> record_child_batches(benchmark::State& state, EventRun& run,
                                             NextBatch&& next_batch) {
  std::vector<float> batch;
  size_t next = 0;
  uint64_t done = 0;
  for (auto _ : state) {
    if (next == batch.size()) {
      std::optional<std::vector<float>> fresh =
          next_batch(static_cast<uint64_t>(state.max_iterations) - done);
      if (!fresh) return std::nullopt;
      batch = std::move(*fresh);
      next = 0;
      if (batch.empty()) break;
    }
    run.record_ns(batch[next++]);
    ++done;
  }
  return done;
}

}  // namespace pageladder
