#include "core/rows.hpp"

#include <cmath>
#include <deque>
#include <iterator>
#include <stdexcept>

#include <nlohmann/json.hpp>

namespace pageladder {
namespace {

// A deque, so that pointers handed to running rows stay valid as rows are added.
std::deque<RowSpec>& registered() {
  static std::deque<RowSpec> rows;
  return rows;
}

thread_local const RowSpec* running = nullptr;

// JSON has no infinity: an unbounded side is null.
nlohmann::json bound(double v) { return std::isinf(v) ? nlohmann::json(nullptr) : nlohmann::json(v); }

const char* unit_name(benchmark::TimeUnit unit) {
  switch (unit) {
    case benchmark::kNanosecond: return "ns";
    case benchmark::kMicrosecond: return "us";
    case benchmark::kMillisecond: return "ms";
    default: return "s";
  }
}

int family_rank(const std::string& family) {
  for (size_t i = 0; i < std::size(kFamilies); ++i)
    if (family == kFamilies[i]) return static_cast<int>(i);
  return -1;
}

}  // namespace

std::vector<Claim> fault_claims(Range minor, Range major) {
  return {{"minor_faults_per_event", minor}, {"major_faults_per_event", major}};
}

std::vector<Claim> one_minor_fault() { return fault_claims({0.99, 1.01}); }

const RowSpec* describe_series(RowSpec spec) {
  if (family_rank(spec.family) < 0)
    throw std::invalid_argument("row " + spec.id + ": family '" + spec.family + "' is not one of kFamilies");
  registered().push_back(std::move(spec));
  return &registered().back();
}

benchmark::internal::Benchmark* add_point(const RowSpec* row, const std::string& point,
                                          std::function<void(benchmark::State&)> body) {
  const std::string name = point.empty() ? row->id : row->id + "/" + point;
  auto* b = benchmark::RegisterBenchmark(name.c_str(), [row, body](benchmark::State& state) {
    running = row;
    body(state);
    running = nullptr;
  });
  b->Unit(row->unit);
  if (row->manual_time) b->UseManualTime();
  return b;
}

benchmark::internal::Benchmark* add_row(RowSpec spec, std::function<void(benchmark::State&)> body) {
  return add_point(describe_series(std::move(spec)), "", std::move(body));
}

const RowSpec* current_row() { return running; }

std::string rows_json() {
  nlohmann::json rows = nlohmann::json::array();
  for (const RowSpec& r : registered()) {
    nlohmann::json claims = nlohmann::json::object();
    for (const Claim& c : r.claims) claims[c.counter] = {bound(c.bounds.lo), bound(c.bounds.hi)};
    rows.push_back({{"id", r.id}, {"label", r.label}, {"family", r.family}, {"event", r.event},
                    {"claims", claims}, {"time_unit", unit_name(r.unit)}, {"rung", r.rung},
                    {"defined_by", r.defined_by}, {"ladder_rank", r.ladder_rank}, {"headline", r.headline},
                    {"anatomy", r.anatomy}, {"family_rank", family_rank(r.family)},
                    {"swap_device", r.swap_device}, {"needs", r.needs},
                    {"series", r.series}, {"series_label", r.series_label},
                    {"memory_reference", r.memory_reference}, {"control", r.control}});
  }
  return rows.dump();
}

}  // namespace pageladder
