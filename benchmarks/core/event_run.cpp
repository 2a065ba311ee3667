#include "core/event_run.hpp"

#include <pthread.h>
#include <sched.h>
#include <sys/mman.h>

#include <algorithm>
#include <cstddef>
#include <cmath>
#include <stdexcept>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace pageladder {
namespace {

// Samples kept for percentiles; beyond this the first ones stand for the rest.
constexpr size_t kMaxSamples = size_t{1} << 22;

double percentile(std::vector<float>& values, double q) {
  if (values.empty()) return 0;
  const auto k = static_cast<size_t>(q * static_cast<double>(values.size() - 1) + 0.5);
  std::nth_element(values.begin(), values.begin() + static_cast<long>(k), values.end());
  return values[k];
}

std::string describe(const Range& r) {
  if (r.lo == r.hi) return fmt::format("{:g}", r.lo);
  if (std::isinf(r.hi)) return fmt::format("at least {:g}", r.lo);
  return fmt::format("{:g}-{:g}", r.lo, r.hi);
}

// "minor_faults_per_event" -> "minor faults per event", as the reasons have always read.
std::string claim_words(std::string counter) {
  std::replace(counter.begin(), counter.end(), '_', ' ');
  return counter;
}

// The thread's stack, [low, high): where a store back into a caller's frame may go.
std::pair<uintptr_t, uintptr_t> stack_bounds() {
  thread_local std::pair<uintptr_t, uintptr_t> bounds = [] {
    pthread_attr_t attr;
    void* low = nullptr;
    size_t size = 0;
    if (pthread_getattr_np(pthread_self(), &attr) == 0) {
      pthread_attr_getstack(&attr, &low, &size);
      pthread_attr_destroy(&attr);
    }
    const auto begin = reinterpret_cast<uintptr_t>(low);
    return std::pair{begin, begin + size};
  }();
  return bounds;
}

// The stack the loop will write: frames it calls below this one (a local array, written), and
// the frames above it, up to Google Benchmark's State and timer on a caller's frame (stored
// back), within the thread's stack.
[[gnu::noinline]] void own_stack_pages() {
  constexpr size_t kBelow = 16 * 1024, kAbove = 32 * 1024;
  volatile char below[kBelow];
  for (size_t off = 0; off < kBelow; off += page_size()) below[off] = 0;
  (void)below[0];
  const auto here = reinterpret_cast<uintptr_t>(__builtin_frame_address(0));
  const auto [low, high] = stack_bounds();
  if (here >= low && here < high) own_pages(here, std::min(high, here + kAbove));
}

}  // namespace

void skip(benchmark::State& state, const std::string& reason) {
  state.SkipWithError(("skipped: " + reason).c_str());
}

const RowSpec& running_row() {
  const RowSpec* row = current_row();
  if (!row) throw std::logic_error("EventRun outside a row registered with add_row");
  return *row;
}

EventRun::EventRun(benchmark::State& state, const std::vector<std::string>& hardware, Timing timing)
    : state_(state), row_(running_row()), timing_(timing), clock_(EventClock::get()),
      windows_(EventWindows::get()), counters_(hardware) {
  capacity_ = timing == Timing::kPerEvent
                  ? std::min<size_t>(static_cast<size_t>(state.max_iterations), kMaxSamples)
                  : 0;
  if (capacity_ == 0) return;
  sample_buffer_ = Mapping::anonymous(capacity_ * sizeof(float), Backing::kBasePages);
  sample_buffer_.advise(MADV_DONTFORK);
  // Fault every page in now, not while recording.
  for (size_t off = 0; off < sample_buffer_.size(); off += page_size())
    touch_write(sample_buffer_.data() + off);
  samples_ = reinterpret_cast<float*>(sample_buffer_.data());
}

void EventRun::add_faults(FaultCount faults) {
  external_.minor += faults.minor;
  external_.major += faults.major;
}

void EventRun::begin_batch() {
  if (windows_) windows_->anchor(row_.id);
  // arm() may have forked a partner (copy-on-write rows): then the first write since the fork to
  // each page the loop itself writes, not its events, would be a fault counted as theirs (one
  // in a 100-event smoke batch is 1%). Those pages are made this process's own before counting:
  // the stack, State and its timer (SetIterationTime adds 0), this object (the thread's rseq
  // area and errno: counters_.start()). The clock runs once too, so its first use faults no code
  // page in.
  own_stack_pages();
  const auto state = reinterpret_cast<uintptr_t>(&state_), self = reinterpret_cast<uintptr_t>(this);
  own_pages(state, state + sizeof state_);
  own_pages(self, self + sizeof *this);
  state_.SetIterationTime(0);
  (void)clock_.to_ns(clock_.stop() - clock_.start());
  counters_.start();
  in_batch_ = true;
}

void EventRun::end_batch() {
  if (!in_batch_) return;
  counters_.stop();
  in_batch_ = false;
}

void EventRun::invalidate(const std::string& reason) {
  if (std::find(problems_.begin(), problems_.end(), reason) == problems_.end())
    problems_.push_back(reason);
}

void EventRun::add_evidence(const std::string& counter, double amount, double per) {
  auto& [sum, over] = evidence_[counter];
  sum += amount;
  over += per;
}

void EventRun::cannot_verify(const std::string& counter, const std::string& why) {
  unverifiable_.emplace(counter, why);
}

void EventRun::note(const std::string& text) {
  if (std::find(notes_.begin(), notes_.end(), text) == notes_.end()) notes_.push_back(text);
}

void EventRun::set_counter(const std::string& name, double value) {
  state_.counters[name] = benchmark::Counter(value);
}

void EventRun::finish() {
  if (windows_) windows_->flush();
  const size_t count = timing_ == Timing::kPerEvent ? recorded_
                                                    : static_cast<size_t>(state_.iterations());
  const double events = static_cast<double>(std::max<size_t>(count, 1));
  FaultCount faults = counters_.rusage();
  faults.minor += external_.minor;
  faults.major += external_.major;
  const double minor = static_cast<double>(faults.minor) / events;
  const double major = static_cast<double>(faults.major) / events;
  set_counter("events", static_cast<double>(count));
  set_counter("minor_faults_per_event", minor);
  set_counter("major_faults_per_event", major);
  // Both classes together: what a claim rests on where kernels disagree on the class.
  set_counter("faults_per_event", minor + major);

  const CounterSet& perf = counters_.perf();
  for (const auto& [semantic, column] :
       {std::pair{"minor_faults", "perf_minor_faults_per_event"},
        std::pair{"major_faults", "perf_major_faults_per_event"},
        std::pair{"cycles", "cycles_per_event"},
        std::pair{"instructions", "instructions_per_event"},
        std::pair{"stlb_hits", "stlb_hits_per_event"},
        std::pair{"dtlb_walks", "dtlb_walks_per_event"}}) {
    const CounterValue v = perf.value(semantic);
    if (v.value) {
      set_counter(column, *v.value / events);
    } else if (std::string(column).rfind("perf_", 0) != 0) {
      // A claim on a hardware counter this machine cannot count is not verified, not failed.
      cannot_verify(column, "no hardware counter for it here (" + perf.hardware_problem() + ")");
    }
  }

  if (timing_ == Timing::kPerEvent) {
    std::vector<float> kept(samples_, samples_ + std::min(recorded_, capacity_));
    set_counter("p50_ns", percentile(kept, 0.50));
    set_counter("p99_ns", percentile(kept, 0.99));
  }
  set_counter("timer_overhead_ns", clock_.overhead_ns());
  // The CPU the row finished on (CPU=<n> pins it; unpinned, the scheduler chose).
  set_counter("cpu", static_cast<double>(sched_getcpu()));
  for (const auto& [counter, sums] : evidence_)
    if (sums.second > 0) set_counter(counter, sums.first / sums.second);
  // The raw counts behind each claim's ratio, for the harness to recompute the claim with its own
  // code (benchmark_json.recheck): <counter>_amount over <counter>_over, and the fault totals.
  for (const auto& [counter, sums] : evidence_) {
    set_counter(counter + "_amount", sums.first);
    set_counter(counter + "_over", sums.second);
  }
  set_counter("minor_faults", static_cast<double>(faults.minor));
  set_counter("major_faults", static_cast<double>(faults.major));

  // Every claim against the counter it names, as exported (faults, and whatever the row set).
  const auto& exported = state_.counters;
  nlohmann::json not_verified = nlohmann::json::object();
  for (const Claim& claim : row_.claims) {
    const auto it = exported.find(claim.counter);
    if (it == exported.end()) {
      if (const auto why = unverifiable_.find(claim.counter); why != unverifiable_.end())
        not_verified[claim.counter] = why->second;
      else
        invalidate(fmt::format("the row exports no {} to check its claim against", claim.counter));
      continue;
    }
    const double value = it->second.value;
    if (!claim.bounds.contains(value))
      invalidate(fmt::format("{:.3f} {}, expected {}", value, claim_words(claim.counter),
                             describe(claim.bounds)));
  }

  set_counter("valid", problems_.empty() ? 1 : 0);
  // The row's status as one JSON object in its label (the only text Google Benchmark carries
  // per row): why it is invalid, what it noted, which claims this machine could not verify.
  // Its one reader is harness/pageladder/benchmark_json.py (row_status); the format is in event_run.hpp.
  nlohmann::json status = nlohmann::json::object();
  if (!problems_.empty()) status["invalid"] = problems_;
  if (!notes_.empty()) status["notes"] = notes_;
  if (!not_verified.empty()) status["not_verified"] = not_verified;
  if (!status.empty()) state_.SetLabel(status.dump());
}

}  // namespace pageladder
