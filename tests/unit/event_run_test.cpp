// EventRun's own check of a row's claims, driven through Google Benchmark in this process: a row
// whose exported counters break its claims comes out invalid with the reason, one that keeps
// them valid, one whose counter this machine cannot give "not verified". (The smoke checker and
// the harness check the same claims again from the JSON; this tests the binary's side alone.)
#include "core/event_run.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <thread>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <map>
#include <stdexcept>
#include <string>

#include "core/child_process.hpp"
#include "core/mapping.hpp"
#include "core/rows.hpp"

namespace pageladder {
namespace {

// Collects each row's counters and label.
class Capture : public benchmark::BenchmarkReporter {
 public:
  bool ReportContext(const Context&) override { return true; }
  void ReportRuns(const std::vector<Run>& runs) override {
    for (const Run& run : runs) {
      if (run.run_type != Run::RT_Iteration) continue;
      auto& row = rows[run.run_name.function_name];
      row.label = run.report_label;
      row.seconds_per_event = run.iterations ? run.real_accumulated_time / static_cast<double>(run.iterations) : 0;
      for (const auto& [name, counter] : run.counters) row.counters[name] = counter.value;
    }
  }
  struct Row {
    std::string label;
    std::map<std::string, double> counters;
    double seconds_per_event = 0;
  };
  std::map<std::string, Row> rows;
};

// One write per event to a fresh page: exactly one minor fault per event.
void one_fault_per_event(benchmark::State& state, bool cannot_verify_cycles) {
  Mapping m = Mapping::anonymous(4096 * page_size(), Backing::kBasePages);
  EventRun run(state, {});
  if (cannot_verify_cycles) run.cannot_verify("stlb_hits_per_event", "no PMU in this test");
  size_t next = 0;
  run_batched_events(
      state, run, [&] { return next < 4096 ? 4096 - next : 0; },
      [&](size_t) { touch_write(m.data() + (next++ % 4096) * page_size()); }, [](size_t) {});
  run.finish();
}

TEST(EventRunClaims, BrokenClaimsMakeTheRowInvalidKeptOnesValidUncheckableOnesNotVerified) {
  add_row({.id = "test_claim_kept", .label = "kept", .family = "reference", .event = "one write",
           .claims = one_minor_fault()},
          [](benchmark::State& s) { one_fault_per_event(s, false); })
      ->Iterations(1000);
  add_row({.id = "test_claim_broken", .label = "broken", .family = "reference", .event = "one write",
           .claims = fault_claims({2, 2})},
          [](benchmark::State& s) { one_fault_per_event(s, false); })
      ->Iterations(1000);
  std::vector<Claim> unverifiable = one_minor_fault();
  unverifiable.push_back({"stlb_hits_per_event", {0.9, kUnbounded}});
  add_row({.id = "test_claim_unverifiable", .label = "unverifiable", .family = "reference", .event = "one write",
           .claims = unverifiable},
          [](benchmark::State& s) { one_fault_per_event(s, true); })
      ->Iterations(1000);
  Capture capture;
  benchmark::RunSpecifiedBenchmarks(&capture, "^test_claim_");

  const auto& kept = capture.rows.at("test_claim_kept");
  EXPECT_EQ(kept.counters.at("valid"), 1);
  const auto& broken = capture.rows.at("test_claim_broken");
  EXPECT_EQ(broken.counters.at("valid"), 0);
  const auto status = nlohmann::json::parse(broken.label);
  EXPECT_EQ(status.at("invalid").at(0), "1.000 minor faults per event, expected 2");
  const auto& unchecked = capture.rows.at("test_claim_unverifiable");
  EXPECT_EQ(unchecked.counters.at("valid"), 1);
  EXPECT_EQ(nlohmann::json::parse(unchecked.label).at("not_verified").at("stlb_hits_per_event"),
            "no PMU in this test");
}

// Events that fault nothing, each batch armed with a fork (a partner holding every page, as the
// copy-on-write rows do). The loop runs 8 KiB of stack below the frame that holds State, so
// State and its timer sit on a page the batch setup never writes: without the loop's pages made
// the process's own before counting, each batch counts a copy-on-write fault no event made.
[[gnu::noinline]] void batches_after_fork(benchmark::State& state, int depth) {
  if (depth > 0) {
    volatile char frame[1024];
    frame[0] = 0;
    batches_after_fork(state, depth - 1);
    (void)frame[0];
    return;
  }
  EventRun run(state, {});
  std::unique_ptr<ChildProcess> partner;
  volatile int sink = 0;
  run_batched_events(
      state, run,
      [&] {
        partner = std::make_unique<ChildProcess>([](int, int from_parent) {
          wait_for_parent(from_parent);
          return 0;
        });
        return size_t{4};
      },
      [&](size_t i) { sink = static_cast<int>(i); }, [&](size_t) { partner.reset(); });
  partner.reset();
  run.finish();
}

TEST(EventRunClaims, ALoopThatForksBetweenBatchesCountsNoFaultsOfItsOwn) {
  add_row({.id = "test_fork_between_batches", .label = "fork", .family = "reference",
           .event = "no fault", .claims = fault_claims({0, 0})},
          [](benchmark::State& s) { batches_after_fork(s, 8); })
      ->Iterations(400);
  Capture capture;
  benchmark::RunSpecifiedBenchmarks(&capture, "^test_fork_between_batches");
  const auto& row = capture.rows.at("test_fork_between_batches");
  EXPECT_EQ(row.counters.at("minor_faults_per_event"), 0) << row.label;
  EXPECT_EQ(row.counters.at("valid"), 1) << row.label;
}

// One write per event to a fresh page, in batches of 8, every batch's first try spoilt: the try
// thrown away faults too, and neither its faults nor its times may reach the row.
void spoilt_first_tries(benchmark::State& state, size_t* thrown_away, size_t* checked_kept) {
  Mapping m = Mapping::anonymous(8192 * page_size(), Backing::kBasePages);
  EventRun run(state, {});
  size_t fresh = 0, base = 0;
  int attempt = 0;
  *thrown_away += run_clean_batches(
      state, run, 8, 2, [&](size_t) { base = fresh; },
      [&](size_t i) {
        // A try to be thrown away is slow: its 2 ms an event must not reach the row's time.
        if (attempt % 2 == 0) std::this_thread::sleep_for(std::chrono::milliseconds(2));
        touch_write(m.data() + (base + i) % 8192 * page_size());
      },
      [&](size_t n) {
        fresh += n;
        return ++attempt % 2 == 0;  // the second try of every batch is clean
      },
      [&](size_t, bool kept) { *checked_kept += kept; });
  run.finish();
}

TEST(EventRunClaims, ABatchThrownAwayAndRunAgainLeavesNeitherItsFaultsNorItsTimesToTheRow) {
  size_t thrown_away = 0, kept = 0;
  add_row({.id = "test_clean_batches", .label = "retried", .family = "reference", .event = "one write",
           .claims = one_minor_fault()},
          [&](benchmark::State& s) { spoilt_first_tries(s, &thrown_away, &kept); })
      ->Iterations(1000);
  Capture capture;
  benchmark::RunSpecifiedBenchmarks(&capture, "^test_clean_batches");
  const auto& row = capture.rows.at("test_clean_batches");
  EXPECT_EQ(row.counters.at("minor_faults_per_event"), 1) << row.label;
  EXPECT_EQ(row.counters.at("valid"), 1) << row.label;
  // Only the kept, fast tries are timed: far below the thrown-away tries' 2 ms an event.
  EXPECT_LT(row.seconds_per_event, 0.5e-3);
  EXPECT_GT(row.seconds_per_event, 0);
  EXPECT_EQ(kept, 125u);  // 1000 events in batches of 8
  EXPECT_EQ(thrown_away, 125u);
}

TEST(RowDescriptions, AFamilyTheChartsDoNotKnowIsRefusedAndEveryRowSaysWhereItStands) {
  EXPECT_THROW(add_row({.id = "test_family_unknown", .label = "unknown family", .family = "misc",
                        .event = "one write", .claims = {}},
                       [](benchmark::State&) {}),
               std::invalid_argument);
  add_row({.id = "test_row_placed", .label = "placed", .family = "anonymous", .event = "one write",
           .claims = {}, .ladder_rank = 55, .headline = true, .anatomy = true, .swap_device = "zram",
           .needs = "5.14: a feature", .series = "test_row_<k>", .series_label = "placed, k of them"},
          [](benchmark::State&) {});
  const auto described = nlohmann::json::parse(rows_json());
  const auto row = std::find_if(described.begin(), described.end(),
                                [](const auto& r) { return r.at("id") == "test_row_placed"; });
  ASSERT_NE(row, described.end());
  EXPECT_EQ(row->at("ladder_rank"), 55);
  EXPECT_EQ(row->at("headline"), true);
  EXPECT_EQ(row->at("anatomy"), true);
  EXPECT_EQ(row->at("family_rank"), 1);  // anonymous: second of kFamilies
  EXPECT_EQ(row->at("swap_device"), "zram");
  EXPECT_EQ(row->at("needs"), "5.14: a feature");
  EXPECT_EQ(row->at("series"), "test_row_<k>");
  EXPECT_EQ(row->at("series_label"), "placed, k of them");
  EXPECT_EQ(std::count_if(described.begin(), described.end(),
                          [](const auto& r) { return r.at("id") == "test_family_unknown"; }), 0);
}

}  // namespace
}  // namespace pageladder
