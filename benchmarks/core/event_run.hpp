// One timed event per Google Benchmark iteration, verified by the faults it caused.
//
// EventRun checks what its row claims (core/rows.hpp: the bounds per event on the counters the
// row exports, faults by class first; the nanobench idea, one small object holds a row's
// configuration). It times each event on
// its own with EventClock and hands that time to Google Benchmark through manual timing, so
// real_time is the cost of one event and no PauseTiming/ResumeTiming sits near µs-scale events.
// State is re-armed in batches between events, outside both the timed region and the counted
// region. At the end the row gets its counters (faults per event from getrusage and perf,
// p50/p99 of the individually timed events, timer overhead, hardware counters where present)
// and `valid` = 1 only if every claim holds; otherwise the label says why not.
#pragma once

#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "core/event_clock.hpp"
#include "core/event_windows.hpp"
#include "core/fault_counters.hpp"
#include "core/mapping.hpp"
#include "core/rows.hpp"

namespace pageladder {

// Marks a row skipped: Google Benchmark 1.7.1 has only SkipWithError, so the message carries a
// "skipped: " prefix that the harness turns into an entry of `skipped`.
void skip(benchmark::State& state, const std::string& reason);

// A row's label is its status, one JSON object (empty when there is nothing to say):
//   {"invalid": ["why", ...], "notes": ["what the reader should know", ...],
//    "not_verified": {"<counter>": "why this machine cannot give it", ...}}
// written by EventRun::finish, read by harness/pageladder/benchmark_json.py (row_status).
enum class Timing {
  kPerEvent,  // each event timed on its own with record(); p50/p99 reported
  kBatched,   // Google Benchmark times the loop; one iteration = one event (ns-scale events)
};

class EventRun {
 public:
  // The claims are the running row's (add_row); throws std::logic_error outside one.
  EventRun(benchmark::State& state,
           const std::vector<std::string>& hardware = {"cycles", "instructions"},
           Timing timing = Timing::kPerEvent);

  void begin_batch();
  void end_batch();  // no-op outside a batch
  // Ends the batch without adding its counts: a batch thrown away (run_clean_batches).
  void discard_batch() { in_batch_ = false; }

  // One event, timed from t0 to t1 (EventClock ticks); its window goes to the anatomy pass's
  // log when one is kept (core/event_windows.hpp).
  inline void record(uint64_t t0, uint64_t t1) {
    if (windows_) windows_->add(t0, t1);
    record_ns(clock_.to_ns(t1 - t0));
  }
  // For events timed elsewhere (in a forked child, say) and reported back.
  inline void record_ns(double ns) {
    state_.SetIterationTime(ns * 1e-9);
    total_ns_ += ns;
    if (recorded_ < capacity_) samples_[recorded_] = static_cast<float>(ns);
    ++recorded_;
  }
  // Faults counted elsewhere (in a forked child) for events recorded with record_ns.
  void add_faults(FaultCount faults);

  // A verification outside the timed region failed: the row is invalid for this reason.
  void invalidate(const std::string& reason);
  // Something the reader should know about how the kernel handled the events.
  void note(const std::string& text);
  // This machine cannot give `counter` (no PMU, no such kernel counter): a claim on it is
  // reported not verified, with why, instead of failing or passing. Hardware counters
  // that did not open are marked so by finish() itself.
  void cannot_verify(const std::string& counter, const std::string& why);
  void set_counter(const std::string& name, double value);
  // Evidence gathered batch by batch (pages copied, kB THP-backed ...): exported at finish() as
  // one counter, the sum of `amount` over the sum of `per`, where the row's claims check it.
  void add_evidence(const std::string& counter, double amount, double per);
  const RowSpec& row() const { return row_; }

  // Writes the counters, the validity and the label. Call once, after the loop.
  void finish();

  const EventClock& clock() const { return clock_; }
  // Mean of the events recorded so far, in ns (per-event timing only).
  double mean_ns() const { return recorded_ ? total_ns_ / static_cast<double>(recorded_) : 0; }

 private:
  benchmark::State& state_;
  const RowSpec& row_;
  Timing timing_;
  const EventClock& clock_;
  EventWindows* const windows_;  // nullptr outside the anatomy pass
  RegionCounters counters_;
  // Its own mapping, excluded from fork (MADV_DONTFORK): a benchmark that forks must not take
  // copy-on-write faults on its own sample buffer.
  Mapping sample_buffer_;
  float* samples_ = nullptr;
  size_t capacity_ = 0;
  size_t recorded_ = 0;
  double total_ns_ = 0;
  FaultCount external_;
  bool in_batch_ = false;
  std::vector<std::string> problems_, notes_;
  std::map<std::string, std::string> unverifiable_;  // counter -> why it cannot be had here
  std::map<std::string, std::pair<double, double>> evidence_;  // counter -> (amount, per)
};

// Drives the common shape of a fault benchmark: `arm()` prepares a fresh batch and returns how
// many events it holds; `event(i)` performs event i (timed); `check(n)` verifies a finished batch
// of n events (untimed, uncounted), calling run.invalidate() when the kernel did something else.
// The caller adds what it learnt and then calls run.finish().
template <class Arm, class Event, class Check>
void run_batched_events(benchmark::State& state, EventRun& run, Arm&& arm, Event&& event,
                        Check&& check) {
  const EventClock& clock = run.clock();
  size_t next = 0, ready = 0;
  const auto last = static_cast<uint64_t>(state.max_iterations);
  uint64_t done = 0;
  for (auto _ : state) {
    if (next == ready) {
      run.end_batch();
      if (ready) check(ready);
      ready = arm();
      next = 0;
      run.begin_batch();
    }
    const uint64_t t0 = clock.start();
    event(next++);
    const uint64_t t1 = clock.stop();
    run.record(t0, t1);
    // The count ends with the last event, before Google Benchmark's end of the loop writes its
    // own state (a mutex on the heap, shared with a partner arm() forked).
    if (++done == last) run.end_batch();
  }
  run.end_batch();
  if (next) check(next);
}

// For rows whose batches something outside the measured path can spoil (a spinner the scheduler
// took off its CPU during the batch): each batch runs ahead of Google Benchmark's loop, its events
// timed into a buffer, and `clean(n)` judges it before its count ends (it must neither fault nor
// allocate: a few atomic loads). A spoilt batch is thrown away, its times and counts never reach
// the row, and armed again, up to `tries` tries in all; the last try is kept whatever it was,
// for the row's own check to judge. `arm(n)` prepares a batch of exactly n events (n <= `batch`;
// the last batch is as short as Google Benchmark's remaining iterations), `event(i)` performs
// event i (timed), `check(n, kept)` follows every batch, kept or thrown away, untimed and
// uncounted. Returns how many batches were thrown away.
template <class Arm, class Event, class Clean, class Check>
size_t run_clean_batches(benchmark::State& state, EventRun& run, size_t batch, int tries, Arm&& arm,
                         Event&& event, Clean&& clean, Check&& check) {
  const EventClock& clock = run.clock();
  std::vector<std::pair<uint64_t, uint64_t>> ticks(batch);
  const auto total = static_cast<uint64_t>(state.max_iterations);
  uint64_t done = 0;
  size_t next = 0, ready = 0, thrown_away = 0;
  for (auto _ : state) {
    if (next == ready) {
      ready = static_cast<size_t>(std::min<uint64_t>(batch, total - done));
      for (int attempt = 1;; ++attempt) {
        arm(ready);
        run.begin_batch();
        for (size_t i = 0; i < ready; ++i) {
          const uint64_t t0 = clock.start();
          event(i);
          ticks[i] = {t0, clock.stop()};
        }
        const bool kept = clean(ready) || attempt >= tries;
        if (kept)
          run.end_batch();
        else
          run.discard_batch();
        check(ready, kept);
        if (kept) break;
        ++thrown_away;
      }
      next = 0;
    }
    run.record(ticks[next].first, ticks[next].second);
    ++next;
    ++done;
  }
  return thrown_away;
}

}  // namespace pageladder
