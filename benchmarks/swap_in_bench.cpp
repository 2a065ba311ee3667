// swap_in_bench: the top of the ladder, a fault on a page that was swapped out.
//
// A worker process runs inside a memory cgroup of our own. It fills anonymous pages with
// non-uniform data (zram stores same-filled pages specially), pushes them out with MADV_PAGEOUT
// (and, for swap on storage, reclaim by the cgroup, since MADV_PAGEOUT leaves the pages in the
// swap cache while they are written back), checks through pagemap that every target page is
// swapped out, then touches them in random order: each touch is a major fault that reads the
// page back (do_swap_page). One event = one such touch, timed in the worker. Rows per swap kind
// (zram, or a swap file/partition on storage; the highest-priority active swap device decides):
//   swap_in_<kind>          page-cluster 0: one page per swap-in, limit well above the region
//   swap_in_disk_cluster    the machine's page-cluster, pages read in order, so swap readahead
//                           acts: per page, some touches read a cluster, the rest find their page
//                           already in the swap cache (zram has no such row: a synchronous
//                           device skips the swap cache and readahead, so it would measure the
//                           same as page-cluster 0)
//   swap_in_<kind>_thrash   the region is twice the cgroup limit: every swap-in also forces the
//                           reclaim (swap-out) of another page; labelled so
//   swap_in_zswap           the page is held compressed in the zswap pool in front of the swap
//                           device (the tier several distributions enable by default): the
//                           swap-in decompresses it, no device read (zswap_load)
// zswap must stay out of the device rows' way, or they time a decompression and call it a device
// read: their cgroup gets memory.zswap.max 0 on cgroup v2; on v1 zswap is switched off for the
// row (journaled and restored, like page-cluster). Every row proves where its pages came from
// with the kernel's own counters per event: pswpin (read from the device) and zswpin (loaded
// from zswap), claimed as bounds and checked by EventRun and again by the harness; where the
// kernel keeps the same counters per cgroup (v2 memory.stat: zswpin from 5.19, pswpin later),
// the row's own group must show most events from its tier and few from the other.
// Needs root (cgroups, page-cluster, zswap). Standalone it uses only swap that already exists;
// `make bench` provisions temporary zram and a swap file around it and removes them afterwards.
// Not modelled: multi-threaded swap-in, swap on NVMe vs HDD (that is the machine's choice,
// recorded with the device), zswap writeback to the device under pool pressure.
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <memory>
#include <numeric>
#include <optional>
#include <random>
#include <sstream>
#include <vector>

#include <benchmark/benchmark.h>
#include <fmt/format.h>

#include "core/cgroup.hpp"
#include "core/child_batch.hpp"
#include "core/child_process.hpp"
#include "core/event_run.hpp"
#include "core/flags.hpp"
#include "core/mapping.hpp"
#include "core/mthp.hpp"
#include "core/pagemap.hpp"
#include "core/sysfs.hpp"
#include "core/system_changes.hpp"

namespace pageladder {
namespace {

constexpr const char* kPageCluster = "/proc/sys/vm/page-cluster";

struct SwapDevice {
  std::string name, type;
  int priority = 0;
  bool zram() const { return name.find("/zram") != std::string::npos; }
};

// The active swap device new swap-outs go to (highest priority), if any.
std::optional<SwapDevice> top_swap_device() {
  std::istringstream in(read_file("/proc/swaps").value_or(""));
  std::string line;
  std::getline(in, line);  // header
  std::optional<SwapDevice> top;
  while (std::getline(in, line)) {
    std::istringstream f(line);
    SwapDevice d;
    long long size, used;
    if (!(f >> d.name >> d.type >> size >> used >> d.priority)) continue;
    if (!top || d.priority > top->priority) top = d;
  }
  return top;
}

// kMthp: page-cluster 0, the region's pages in mTHP folios of one size, one touch per folio.
enum class Mode { kIsolated, kCluster, kThrash, kMthp };
// Where the swapped-out page waits: on zram, on storage, or compressed in zswap (in front of
// whatever swap device takes the pages otherwise).
enum class Tier { kZram, kDisk, kZswap };

constexpr const char* kZswapEnabled = "/sys/module/zswap/parameters/enabled";

const char* tier_name(Tier tier) {
  return tier == Tier::kZram ? "zram" : tier == Tier::kDisk ? "disk" : "zswap";
}

// What the worker adds to its report: the pages it found swapped out, and the swap-ins its
// touches caused (pswpin).
struct SwapCounts {
  uint64_t swapped_before = 0;
  int64_t swap_ins = 0;   // pswpin: pages read from a swap device
  int64_t zswap_ins = 0;  // zswpin: pages loaded from the zswap pool
  uint64_t chunks = 0, one_folio_chunks = 0;  // the mTHP row: chunks, and those one folio before swap-out
};

void fill_page(char* page, size_t index) {
  // Half pseudo-random, half zero: compressible, as real anonymous memory is, never same-filled.
  uint64_t x = index * 0x9E3779B97F4A7C15ull + 1;
  auto* words = reinterpret_cast<uint64_t*>(page);
  for (size_t w = 0; w < page_size() / 16; ++w) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    words[w] = x;
  }
}

int64_t vmstat(const char* key) { return read_keyed_integer("/proc/vmstat", key).value_or(0); }

// Whether /proc/vmstat counts zswap loads: a kernel without zswap has no zswpin (and then no
// page can come from zswap); a kernel with zswap but no counter cannot prove where pages came from.
bool counts_zswap_loads() { return read_keyed_integer("/proc/vmstat", "zswpin").has_value(); }

// Swap-ins as the memory cgroup itself counts them (memory.stat), summed over the batches'
// groups (one per batch, so each total covers its batch alone: the preparation swaps nothing
// in). A key this kernel's memory.stat lacks in every batch is said to be unchecked; one that
// some batches had and others lacked makes the row invalid (mixed evidence is no evidence). v2
// flushes these counters lazily, so they prove the tier with a margin (most events from the
// row's tier, few from the other) rather than to the event.
struct GroupSwapIns {
  struct Key {
    int64_t total = 0;
    uint64_t batches_with = 0;  // batches whose memory.stat had the key
  };
  Key from_device, from_zswap;  // pswpin, zswpin
  uint64_t batches = 0;

  void add(const MemoryCgroup& group) {
    ++batches;
    for (auto [key, name] : {std::pair{&from_device, "pswpin"}, std::pair{&from_zswap, "zswpin"}})
      if (const auto n = group.stat(name)) {
        key->total += *n;
        ++key->batches_with;
      }
  }

  void check(EventRun& run, Tier tier, uint64_t events) const {
    if (events == 0) return;
    const auto per_event = [&](int64_t n) { return static_cast<double>(n) / static_cast<double>(events); };
    constexpr double kMost = 0.85, kFew = 0.15;
    // Whether the key was read in every batch and within its bound; gathers the keys this
    // kernel's memory.stat lacks, said once below.
    std::vector<std::string> absent;
    const auto expect = [&](const Key& count, const char* key, const char* counter, const char* what,
                            bool from_this_tier) {
      if (count.batches_with == 0) {
        absent.push_back(key);
        return false;
      }
      if (count.batches_with != batches) {
        run.invalidate(fmt::format("the cgroup's memory.stat had {} in {} of {} batches", key, count.batches_with,
                                   batches));
        return false;
      }
      const double value = per_event(count.total);
      run.set_counter(counter, value);
      if (from_this_tier ? value < kMost : value > kFew) {
        run.invalidate(fmt::format("the cgroup's own memory.stat counted {:.3f} {} per event, expected {} {}",
                                   value, what, from_this_tier ? "at least" : "at most",
                                   from_this_tier ? kMost : kFew));
        return false;
      }
      return true;
    };
    const bool zswap_checked =
        expect(from_zswap, "zswpin", "group_zswap_ins_per_event", "zswap loads (zswpin)", tier == Tier::kZswap);
    const bool device_checked = expect(from_device, "pswpin", "group_swap_ins_per_event",
                                       "swap device reads (pswpin)", tier != Tier::kZswap);
    // Proven only by the count of the row's own tier; the other's alone says where pages did not come from.
    if (tier == Tier::kZswap ? zswap_checked : device_checked)
      run.note("tier also proven by the cgroup's own memory.stat");
    else if (!absent.empty())
      run.note(fmt::format("the cgroup's memory.stat has no {} here: the tier rests on /proc/vmstat alone",
                           fmt::join(absent, " or ")));
  }
};

// Readahead acted, for batches of any size, as counters the row claims to be 0 (so the harness
// checks them again): at most half the in-order touches read the device (a window of at least
// two pages each) plus one per batch (its first touch); and no page was read twice: no more
// pages read than the batches' regions had swapped out.
void export_readahead(EventRun& run, uint64_t events, uint64_t batches, int64_t majors, int64_t swap_ins,
                      uint64_t swapped) {
  const auto n = static_cast<int64_t>(events), b = static_cast<int64_t>(batches);
  const double per = events ? 1.0 / static_cast<double>(events) : 0;
  run.set_counter("excess_major_faults_per_event",
                  static_cast<double>(std::max<int64_t>(0, majors - ((n + 1) / 2 + b))) * per);
  run.set_counter("pages_read_twice_per_event",
                  static_cast<double>(std::max<int64_t>(0, swap_ins - static_cast<int64_t>(swapped))) * per);
}

// The worker, inside the cgroup: prepare, wait for the parent's reclaim, verify, time.
int worker(int to_parent, int from_parent, Mode mode, size_t events, size_t region_pages,
           const EventClock& clock) {
  std::vector<float> ns(events, 0.f);
  std::vector<size_t> targets;
  targets.reserve(region_pages);
  wait_for_parent(from_parent);  // now inside the cgroup
  // Keep our own code, stack and buffers resident, so only the region can swap (no
  // MCL_FUTURE: the region itself must stay swappable).
  mlockall(MCL_CURRENT);
  Mapping region = Mapping::anonymous(region_pages * page_size(), Backing::kBasePages);
  for (size_t i = 0; i < region_pages; ++i) fill_page(region.data() + i * page_size(), i);
  if (mode != Mode::kThrash) {
    region.advise(MADV_PAGEOUT);
    // mincore reports a swapped-out page still in the swap cache as resident: until none is,
    // ask the parent to have the cgroup reclaim them (a block device's writeback must end first).
    std::vector<unsigned char> resident(region_pages);
    for (int attempt = 0; attempt < 200; ++attempt) {
      if (mincore(region.data(), region.size(), resident.data()) != 0) break;
      if (std::none_of(resident.begin(), resident.end(), [](unsigned char r) { return r & 1; })) break;
      const char reclaim = 'R';
      write_all(to_parent, &reclaim, 1);
      wait_for_parent(from_parent);
    }
  }
  const char ready = 'D';
  write_all(to_parent, &ready, 1);

  // A target is swapped out (pagemap) and not in the swap cache (mincore): touching it must
  // read from the device. Reclaim can leave a few pages in the swap cache; they are left out.
  Pagemap pagemap;
  std::vector<unsigned char> in_cache(region_pages, 0);
  mincore(region.data(), region.size(), in_cache.data());
  for (size_t i = 0; i < region_pages; ++i)
    if (pagemap.at(region.data() + i * page_size()).value_or(PageState{}).swapped && !(in_cache[i] & 1))
      targets.push_back(i);
  // Random order defeats swap readahead (one page per swap-in); the cluster row reads its pages
  // in order, where readahead brings the neighbours in ahead of the touches.
  if (mode != Mode::kCluster) std::shuffle(targets.begin(), targets.end(), std::mt19937_64(events));
  BatchReport<SwapCounts> report;
  report.extra.swapped_before = targets.size();
  report.events = std::min(events, targets.size());
  const int64_t swap_ins = vmstat("pswpin"), zswap_ins = vmstat("zswpin");
  report.faults = time_each_event(
      clock, ns.data(), report.events,
      [&](size_t k) { return region.data() + targets[k] * page_size(); },
      [](const char* page) { touch_read(page); });
  report.extra.swap_ins = vmstat("pswpin") - swap_ins;
  report.extra.zswap_ins = vmstat("zswpin") - zswap_ins;
  return send_batch(to_parent, report, ns.data()) ? 0 : 1;
}

// The worker of the mTHP row: `chunks` chunks of `kb` KiB, each faulted in as one folio of that
// size (its first write allocates it) and filled, paged out, then the first page of each chunk
// touched in random order: one major fault per touch, which reads back the whole folio or, where
// the kernel splits large folios on swap-in, the 4 KiB touched.
int mthp_worker(int to_parent, int from_parent, size_t events, size_t chunks, size_t kb, const EventClock& clock) {
  std::vector<float> ns(events, 0.f);
  wait_for_parent(from_parent);  // now inside the cgroup
  mlockall(MCL_CURRENT);
  const size_t chunk = kb * 1024, per_chunk = chunk / page_size();
  MthpRegion region(chunk, mthp_spans_for(chunk, chunks));
  for (size_t c = 0; c < region.chunks(); ++c)
    for (size_t p = 0; p < per_chunk; ++p) fill_page(region.chunk(c) + p * page_size(), c * per_chunk + p);
  // Each chunk one folio of the size before it goes out (pagemap and, as root, kpageflags).
  Pagemap pagemap;
  BatchReport<SwapCounts> report;
  report.extra.chunks = region.chunks();
  for (size_t c = 0; c < region.chunks(); ++c)
    report.extra.one_folio_chunks += !mthp_chunk_not_one_folio(pagemap, region.chunk(c), chunk);
  region.advise_chunks(MADV_PAGEOUT);
  const char ready = 'D';
  write_all(to_parent, &ready, 1);
  std::vector<size_t> targets;
  for (size_t c = 0; c < region.chunks(); ++c) {
    unsigned char cached = 0;
    mincore(region.chunk(c), page_size(), &cached);
    if (pagemap.at(region.chunk(c)).value_or(PageState{}).swapped && !(cached & 1)) targets.push_back(c);
  }
  std::shuffle(targets.begin(), targets.end(), std::mt19937_64(events));
  report.extra.swapped_before = targets.size();
  report.events = std::min(events, targets.size());
  const int64_t swap_ins = vmstat("pswpin"), zswap_ins = vmstat("zswpin");
  report.faults = time_each_event(
      clock, ns.data(), report.events, [&](size_t k) { return region.chunk(targets[k]); },
      [](const char* page) { touch_read(page); });
  report.extra.swap_ins = vmstat("pswpin") - swap_ins;
  report.extra.zswap_ins = vmstat("zswpin") - zswap_ins;
  return send_batch(to_parent, report, ns.data()) ? 0 : 1;
}

// The mTHP size's own swap counters (stats/swpout, swpin and their fallbacks), system-wide,
// summed over the batches: whether folios of the size went out and came back whole.
struct FolioSwaps {
  static constexpr const char* kStats[] = {"swpout", "swpout_fallback", "swpin", "swpin_fallback"};
  size_t kb = 0;
  int64_t totals[4] = {};
  std::optional<int64_t> before[4];
  void begin() {
    for (size_t i = 0; i < 4; ++i) before[i] = mthp_stat(kb, kStats[i]);
  }
  void end() {
    for (size_t i = 0; i < 4; ++i) {
      const auto now = mthp_stat(kb, kStats[i]);
      if (now && before[i]) totals[i] += *now - *before[i];
    }
  }
  void report(EventRun& run, uint64_t events) const {
    if (!events) return;
    if (!mthp_stat(kb, "swpin") || !mthp_stat(kb, "swpout")) {
      run.note(fmt::format("hugepages-{}kB/stats has no swpout/swpin: whether the folios went out and came "
                           "back whole is unknown here", kb));
      return;
    }
    const auto per = [&](size_t i) { return static_cast<double>(totals[i]) / static_cast<double>(events); };
    run.set_counter("folio_swapouts_per_event", per(0));
    run.set_counter("folio_swapout_fallbacks_per_event", per(1));
    run.set_counter("folio_swapins_per_event", per(2));
    run.set_counter("folio_swapin_fallbacks_per_event", per(3));
    const std::string out = per(0) >= 0.5 ? "went out whole"
                            : fmt::format("were split on swap-out (swpout_fallback {:.2f} per event)", per(1));
    if (per(2) >= 0.5)
      run.note(fmt::format("the {} KiB folios {} and came back whole: one fault read the folio", kb, out));
    else if (per(3) >= 0.5)
      run.note(fmt::format("the {} KiB folios {} and came back 4 KiB at a time: the kernel tried a large "
                           "folio on swap-in and fell back (swpin_fallback {:.2f} per event)", kb, out, per(3)));
    else
      run.note(fmt::format("the {} KiB folios {} and came back 4 KiB at a time: the kernel did not try a large "
                           "folio on swap-in (that needs 6.12, a synchronous device such as zram, and zswap "
                           "never enabled since boot: the zswap row enables it)", kb, out));
  }
};

// MADV_PAGEOUT to a block device leaves each page in the swap cache until its writeback ends
// (zram, being synchronous, does not): wait for the writeback, then have the cgroup reclaim the
// clean swap-cache pages, so that the touch really reads from the device.
void evict_swap_cache(MemoryCgroup& group) {
  for (int wait = 0; wait < 500 && read_keyed_integer("/proc/meminfo", "Writeback").value_or(0) > 0; ++wait)
    usleep(1000);
  // Everything else in the group is mlocked, so what reclaim can take is the region.
  group.reclaim(0);
}

std::optional<std::string> missing_prerequisite(Tier tier) {
  if (geteuid() != 0) return "needs root (it creates a memory cgroup and sets vm.page-cluster)";
  const CgroupLayout layout = detect_memory_cgroup();
  if (!layout.why_unusable.empty()) return layout.why_unusable;
  const auto top = top_swap_device();
  if (!top) return "no active swap device (make bench provisions temporary swap as root)";
  if (tier == Tier::kZswap) {
    if (!read_line(kZswapEnabled)) return "this kernel has no zswap (/sys/module/zswap)";
    if (top->zram()) return fmt::format("zswap in front of zram ({}) is not measured", top->name);
    return std::nullopt;
  }
  const bool zram = tier == Tier::kZram;
  if (top->zram() != zram)
    return fmt::format("the active swap device with the highest priority is {} ({}), not {}",
                       top->name, top->zram() ? "zram" : "storage", zram ? "zram" : "storage");
  return std::nullopt;
}

bool zswap_on() { return read_line(kZswapEnabled).value_or("N") == "Y"; }

// Puts zswap where the row needs it: on for the zswap row, out of the way of the device rows.
// Per cgroup on v2 (memory.zswap.max, set on each group as it is made); on v1, or for turning it
// on, the global switch, journaled and restored. Returns why it cannot, or nothing.
std::optional<std::string> arrange_zswap(Tier tier, const CgroupLayout& layout,
                                         std::unique_ptr<ScopedSysctl>& global) {
  const bool want = tier == Tier::kZswap;
  if (want == zswap_on()) return std::nullopt;
  if (!want && layout.memory == CgroupVersion::kV2) return std::nullopt;  // memory.zswap.max 0
  if (flag("no_system_changes"))
    return want ? "NO_SYSTEM_CHANGES: zswap is off and stays off"
                : "NO_SYSTEM_CHANGES: zswap is on and stays on, so a swap-in would be timed from the "
                  "zswap pool, not the device";
  try {
    global = std::make_unique<ScopedSysctl>(kZswapEnabled, want ? "Y" : "N");
  } catch (const std::exception& e) {
    return e.what();
  }
  return std::nullopt;
}

void swap_row(benchmark::State& state, Tier tier, Mode mode, size_t mthp_kb = 0) {
  if (auto why = missing_prerequisite(tier)) {
    skip(state, *why);
    return;
  }
  std::unique_ptr<ScopedSysctl> mthp_switch;
  if (mode == Mode::kMthp)
    if (auto why = mthp_size_for_row(mthp_kb, mthp_switch)) {
      skip(state, *why);
      return;
    }
  FolioSwaps folio_swaps;
  folio_swaps.kb = mthp_kb;
  const SwapDevice device = *top_swap_device();
  const std::string machine_cluster = read_line(kPageCluster).value_or("3");
  std::unique_ptr<ScopedSysctl> cluster;
  if (mode == Mode::kCluster && machine_cluster == "0") {
    skip(state, "the machine's page-cluster is already 0: the same as the page-cluster 0 row");
    return;
  }
  if (mode != Mode::kCluster) {
    if (machine_cluster != "0" && flag("no_system_changes")) {
      skip(state, fmt::format("NO_SYSTEM_CHANGES: vm.page-cluster stays at {}", machine_cluster));
      return;
    }
    try {
      cluster = std::make_unique<ScopedSysctl>(kPageCluster, "0");
    } catch (const std::exception& e) {
      skip(state, e.what());
      return;
    }
  }
  const CgroupLayout layout = detect_memory_cgroup();
  std::unique_ptr<ScopedSysctl> zswap_switch;
  if (auto why = arrange_zswap(tier, layout, zswap_switch)) {
    skip(state, *why);
    return;
  }
  EventRun run(state, {});
  const EventClock& clock = run.clock();
  constexpr size_t kBatch = 2048;
  constexpr size_t kThrashPages = 8192;  // 32 MiB region in a 16 MiB cgroup
  constexpr size_t kSparePages = kBatch / 16;
  constexpr size_t kMthpBatch = 128, kMthpSpare = 8;  // folios a batch touches, and spares
  int64_t swap_ins = 0, zswap_ins = 0;
  // The same, from the group's own memory.stat where the kernel keeps them there (v2: zswpin
  // from 5.19, pswpin later; v1: neither): the tier proven by the group itself, not only by
  // the whole machine's vmstat.
  GroupSwapIns group_ins;
  int64_t majors = 0;
  uint64_t batches = 0, swapped = 0;
  size_t oom = 0;
  uint64_t short_of_target = 0;  // pages a batch wanted but found not swapped out
  const std::optional<uint64_t> done =
      record_child_batches(state, run, [&](uint64_t left) -> std::optional<std::vector<float>> {
        const size_t n = static_cast<size_t>(std::min<uint64_t>(mode == Mode::kMthp ? kMthpBatch : kBatch, left));
        // Spare pages, so that a few the kernel did not swap out (or left in the swap cache)
        // are left out of the timing without shortening the batch.
        const size_t region = mode == Mode::kThrash ? kThrashPages
                              : mode == Mode::kMthp ? (kMthpBatch + kMthpSpare) * mthp_kb * 1024 / page_size()
                                                    : std::max<size_t>(n, kBatch) + kSparePages;
        const size_t limit = mode == Mode::kThrash ? region * page_size() / 2
                                                   : region * page_size() + (size_t{64} << 20);
        BatchReport<SwapCounts> report;
        std::vector<float> batch;
        try {
          MemoryCgroup group(layout, limit);
          // On v2 the group's own zswap limit keeps a device row's pages out of the pool.
          if (tier != Tier::kZswap && zswap_on() && !group.set_zswap_max("0"))
            throw std::runtime_error("zswap is on and this cgroup cannot keep its pages out of it");
          ChildProcess child([&](int up, int down) {
            return mode == Mode::kMthp ? mthp_worker(up, down, n, kMthpBatch + kMthpSpare, mthp_kb, clock)
                                       : worker(up, down, mode, n, region, clock);
          });
          folio_swaps.begin();
          group.add(child.pid());
          child.signal_child();
          for (char request = 0; child.read(&request, 1) && request == 'R';) {
            evict_swap_cache(group);
            child.signal_child();
          }
          const bool ok = receive_batch(child, n, report, batch);
          const int status = child.wait();
          folio_swaps.end();
          group_ins.add(group);
          if (group.oom_kills() > 0) ++oom;
          if (!ok || status != 0) {
            skip(state, oom ? fmt::format("the worker was OOM-killed in its cgroup (limit {} MiB)", limit >> 20)
                            : fmt::format("the worker failed (status {})", status));
            return std::nullopt;
          }
        } catch (const std::exception& e) {
          skip(state, e.what());
          return std::nullopt;
        }
        // A transient (a few pages not swapped out) only shortens the batch; a batch that lost
        // more than half its pages means the setup is not doing what it claims.
        if (report.events < n) short_of_target += n - report.events;
        if (report.events < (n + 1) / 2)
          run.invalidate(fmt::format("only {} of {} target pages were swapped out before the touch",
                                     report.extra.swapped_before, n));
        run.add_faults(report.faults);
        majors += report.faults.major;
        swapped += report.extra.swapped_before;
        ++batches;
        swap_ins += report.extra.swap_ins;
        zswap_ins += report.extra.zswap_ins;
        if (mode == Mode::kMthp)
          run.add_evidence("one_folio_chunk_fraction", static_cast<double>(report.extra.one_folio_chunks),
                           static_cast<double>(report.extra.chunks));
        return batch;
      });
  if (!done) return;
  if (oom) run.invalidate("the cgroup recorded an OOM kill");
  run.set_counter("batch_pages_not_swapped_out", static_cast<double>(short_of_target));
  const auto per_event = [&](int64_t n) { return *done ? static_cast<double>(n) / static_cast<double>(*done) : 0; };
  run.set_counter("swap_ins_per_event", per_event(swap_ins));
  if (counts_zswap_loads())
    run.set_counter("zswap_ins_per_event", per_event(zswap_ins));
  else if (read_line(kZswapEnabled))
    run.cannot_verify("zswap_ins_per_event", "zswap is present but /proc/vmstat has no zswpin");
  else
    run.set_counter("zswap_ins_per_event", 0);  // no zswap in this kernel: nothing came from it
  group_ins.check(run, tier, *done);
  if (mode == Mode::kCluster) export_readahead(run, *done, batches, majors, swap_ins, swapped);
  if (mode == Mode::kMthp) {
    folio_swaps.report(run, *done);
    run.note(mthp_size_note(mthp_kb, mthp_switch != nullptr));
  }
  run.set_counter("zswap_enabled", zswap_on() ? 1 : 0);
  run.set_counter("page_cluster", std::stod(read_line(kPageCluster).value_or("0")));
  run.note(fmt::format("swap on {} ({}, priority {}); page-cluster {}; cgroup {}; zswap {}{}", device.name,
                       device.type, device.priority, read_line(kPageCluster).value_or("?"),
                       layout.describe(),
                       tier == Tier::kZswap ? "on (" + read_line("/sys/module/zswap/parameters/compressor").value_or("?") + ")"
                       : zswap_on() ? "on, kept out by memory.zswap.max 0" : "off",
                       mode == Mode::kThrash ? "; region twice the cgroup limit: each swap-in "
                                               "also reclaims another page"
                                             : ""));
  run.finish();
}

// What each row claims: faults by class, and where the pages came from per event, by the
// kernel's counters. Under thrashing, a page being written back when it is touched is a
// swap-cache hit: a few percent of events, so that row asks for at least 0.95. With readahead a
// major fault may read several pages, so the cluster rows claim at least a few swap-ins.
std::vector<Claim> claims_of(Tier tier, Mode mode) {
  std::vector<Claim> claims;
  if (tier == Tier::kZswap) {
    claims = fault_claims({0, 0.01}, {0.99, 1.01});
    claims.push_back({"zswap_ins_per_event", {0.99, 1.01}});
    claims.push_back({"swap_ins_per_event", {0, 0.01}});
    return claims;
  }
  switch (mode) {
    case Mode::kCluster:
      // Every page is read from the device once, most of them by readahead: fewer major faults
      // than pages, the rest swap-cache hits (minor faults). page-cluster >= 1 reads at least
      // two pages per swap-in, so at most half the touches are major faults, plus one per batch
      // (its first touch); readahead also reads swapped pages around the touched ones, but no
      // page twice. Those bounds depend on the batches' size, which a slow device (or an
      // emulated machine) makes small: export_readahead scales them to the batches the row ran.
      claims = fault_claims({0, 0.99}, {0.01, 1.01});
      claims.push_back({"swap_ins_per_event", {0.9, kUnbounded}});
      claims.push_back({"excess_major_faults_per_event", {0, 0}});
      claims.push_back({"pages_read_twice_per_event", {0, 0}});
      break;
    case Mode::kThrash:
      claims = fault_claims({0, 0.05}, {0.95, 1.01});
      claims.push_back({"swap_ins_per_event", {0.95, 1.01}});
      break;
    case Mode::kMthp:
      // One major fault per folio touched; it reads the page, or the whole folio (pswpin counts
      // pages: up to the folio's), whichever the kernel does: the row says which.
      claims = fault_claims({0, 0.01}, {0.99, 1.01});
      claims.push_back({"swap_ins_per_event", {0.99, kUnbounded}});
      claims.push_back({"one_folio_chunk_fraction", {1, 1}});  // every chunk one folio before swap-out
      break;
    default:
      claims = fault_claims({0, 0.01}, {0.99, 1.01});
      claims.push_back({"swap_ins_per_event", {0.99, 1.01}});
  }
  claims.push_back({"zswap_ins_per_event", {0, 0}});  // a device row never times zswap
  return claims;
}

std::string label_of(Tier tier, Mode mode) {
  if (tier == Tier::kZswap)
    return "fault on a page held compressed in the zswap pool in front of swap on storage, "
           "memory-limited cgroup, page-cluster 0";
  const std::string where = tier == Tier::kZram ? "zram" : "a swap file or partition on storage";
  switch (mode) {
    case Mode::kCluster:
      return fmt::format("read of pages swapped out to {}, in order, memory-limited cgroup, with "
                         "the machine's page-cluster (swap readahead acting), per page", where);
    case Mode::kThrash:
      return fmt::format("fault on a page swapped out to {}, in a cgroup half the region's size "
                         "(each swap-in also reclaims another page)", where);
    case Mode::kMthp:
      return fmt::format("fault on a multi-size THP folio swapped out to {}, memory-limited cgroup, "
                         "page-cluster 0 (one touch per folio)", where);
    default:
      return fmt::format("fault on a page swapped out to {}, memory-limited cgroup, page-cluster 0",
                         where);
  }
}

// What a swap row needs (its docs, from the row): what every swap row needs, and its tier's own.
std::string needs_of(Tier tier, Mode mode) {
  std::string needs =
      "root, a memory cgroup (v1, or v2 with memory enabled for the root's children; memory.reclaim "
      "on v2: 5.19) and swap of this kind, which make bench provisions as root";
  if (tier == Tier::kZswap)
    needs += "; zswap (CONFIG_ZSWAP) with zswpin in /proc/vmstat (5.19), memory.zswap.max on v2 (5.19)";
  if (mode == Mode::kCluster) needs += "; page-cluster above 0";
  if (mode == Mode::kMthp) needs += "; multi-size THP (6.8) with per-size stats/ (6.10)";
  return needs;
}

void add_swap_row(Tier tier, const std::string& suffix, Mode mode, int ladder_rank, bool headline,
                  size_t mthp_kb = 0) {
  add_row({.id = std::string("swap_in_") + tier_name(tier) + suffix,
           .label = label_of(tier, mode),
           .family = "swap",
           .event = tier == Tier::kZswap ? "one read of a page held in zswap"
                    : mode == Mode::kMthp  ? fmt::format("one read of a swapped-out {} KiB folio", mthp_kb)
                                           : "one read of a swapped-out page",
           .claims = claims_of(tier, mode),
           .ladder_rank = ladder_rank,
           .headline = headline,
           .anatomy = true,
           // zswap sits in front of a storage device: its row runs in the storage phase.
           .swap_device = tier == Tier::kZram ? "zram" : "disk",
           .needs = needs_of(tier, mode),
           // The mTHP row's size is the kernel's (64 KiB where offered): a series, its docs one line.
           .series = mode == Mode::kMthp ? std::string("swap_in_zram_mthp_<size>k") : std::string(),
           .series_label = mode == Mode::kMthp ? "fault on a <size> KiB mTHP folio swapped out to zram, memory-limited "
                                                 "cgroup, page-cluster 0 (one touch per folio), 64 KiB where offered"
                                               : ""},
          [tier, mode, mthp_kb](benchmark::State& s) { swap_row(s, tier, mode, mthp_kb); });
}

void register_rows() {
  add_swap_row(Tier::kZram, "", Mode::kIsolated, 200, true);
  add_swap_row(Tier::kZram, "_thrash", Mode::kThrash, 210, false);
  // Large folios on zram (swap-out whole from 6.10, swap-in whole from 6.12 on a synchronous
  // device): 64 KiB, the size most deployments pick, where offered.
  const std::vector<size_t> sizes = mthp_sizes();
  const size_t kb = sizes.empty() || std::find(sizes.begin(), sizes.end(), 64) != sizes.end() ? 64 : sizes.front();
  add_swap_row(Tier::kZram, fmt::format("_mthp_{}k", kb), Mode::kMthp, 205, false, kb);
  add_swap_row(Tier::kDisk, "", Mode::kIsolated, 230, true);
  add_swap_row(Tier::kDisk, "_cluster", Mode::kCluster, 240, false);
  add_swap_row(Tier::kDisk, "_thrash", Mode::kThrash, 250, false);
  add_swap_row(Tier::kZswap, "", Mode::kIsolated, 220, true);
}

const Registrar registrar(register_rows);

}  // namespace
}  // namespace pageladder
