// Each row of a benchmark binary, described once, by the binary that measures it.
//
// A row says what one event is, the label a reader sees (it stands on its own: the ladder is
// sorted by cost, so no label may lean on the row above it), its family, and its claims: the
// bounds per event on the counters it exports (faults by class, swap-ins, backing ...). EventRun
// checks the claims on every repetition and marks the row invalid when one fails; the binary
// also writes every row's description into its JSON context (key "pageladder_rows", a JSON
// array), where the harness checks the same claims again, generically, and takes the labels
// from. The Python side keeps only presentation (order, colours, grouping).
#pragma once

#include <benchmark/benchmark.h>

#include <functional>
#include <limits>
#include <string>
#include <vector>

namespace pageladder {

struct Range {
  double lo = 0, hi = 0;
  bool contains(double v) const { return v >= lo && v <= hi; }
};
inline constexpr double kUnbounded = std::numeric_limits<double>::infinity();

// A counter the row exports, per event, must lie in `bounds`.
struct Claim {
  std::string counter;
  Range bounds;
};

// The usual claim of a fault row: minor and major faults per event.
std::vector<Claim> fault_claims(Range minor, Range major = {0, 0});
// One minor fault per event (0.99-1.01) and no major fault: demand-zero, copy-on-write ...
std::vector<Claim> one_minor_fault();

struct RowSpec {
  std::string id;      // the rung id (docs/names.md), and the Google Benchmark run name
  std::string label;   // what a reader sees; stands on its own, unique in the suite
  std::string family;  // tlb | anonymous | cow | file | swap | signals | reference
  std::string event;   // what one event is, in a few words
  std::vector<Claim> claims;
  benchmark::TimeUnit unit = benchmark::kMicrosecond;
  bool manual_time = true;  // events timed one by one (EventRun::record); false: GB times the loop
  bool rung = true;         // false: a supporting row (the TLB sweep's points), not on the ladder
  // Counters whose values define what the row measured (the TLB rungs' page count, the file
  // rows' file size): two runs' rows compare only where these agree.
  std::vector<std::string> defined_by = {};
  // Where the row stands, said here once for the harness, its charts and its anatomy pass:
  int ladder_rank = 0;            // its place on the ladder, bottom to top; 0: after the ranked
                                  // rows, by family (a supporting or a new row)
  bool headline = false;          // on the headline ladder (ladder.svg): a rung of docs/names.md
  bool anatomy = false;           // a fault: the anatomy pass (ANATOMY=1) splits its time
  std::string swap_device = "";   // the swap device its pages must go to ("zram", "disk"), the
                                  // harness provisioning it for the row's phase; "" for none
  bool memory_reference = false;  // measures the machine's memory speed (zeroing, copying a
                                  // page): compare names it when most rungs move together
  std::string control = "";       // the row measured the same way without the mechanism: the
                                  // run reports this row minus it, with its interval
  // What the row needs from the kernel and the machine, and since which kernel, for the rung
  // tables of the docs (python3 -m pageladder rows --markdown); "" where every supported kernel
  // and machine has it.
  std::string needs = "";
  // A row of a series registered per machine (one per mTHP size, per CPU count): the series' id
  // and label with the varying part named ("mthp_fault_<size>k"), which the docs (and charts)
  // take from here rather than parse ids for; "" for a row of its own.
  std::string series = "";
  std::string series_label = "";
};

// The families, in the order the charts show them.
inline constexpr const char* kFamilies[] = {"tlb", "anonymous", "cow", "file", "swap", "signals", "reference"};

// Registers `spec` with Google Benchmark, running `body` for it; the row's EventRun finds its
// claims through current_row(). Returns the Benchmark for further settings (MinTime ...).
benchmark::internal::Benchmark* add_row(RowSpec spec, std::function<void(benchmark::State&)> body);

// A series of rows that share one description (the TLB sweep's points): describe it once,
// then add each point under its own run name, `<series id>/<point>`.
const RowSpec* describe_series(RowSpec spec);
benchmark::internal::Benchmark* add_point(const RowSpec* series, const std::string& point,
                                          std::function<void(benchmark::State&)> body);

// The row whose body is running on this thread, or nullptr outside add_row's rows.
const RowSpec* current_row();

// Every registered row's description as a JSON array, for the context.
std::string rows_json();

}  // namespace pageladder
