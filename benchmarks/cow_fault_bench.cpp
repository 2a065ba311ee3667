// cow_fault_bench: the copy-on-write fault after fork().
//
// fork() write-protects every private anonymous page in both processes. The first write to such
// a page while the other process still maps it takes a write-protect fault in which the kernel
// allocates a frame, copies 4 KiB and maps the copy writable (do_wp_page -> wp_page_copy). One
// event = one such first write, timed on its own; each batch forks a fresh partner (outside the
// timed region) that stays alive and idle on a pipe while the writer works. Rows:
//   cow_fault         the parent writes, the child holds the pages
//   cow_fault_child   the child writes, the parent holds the pages (timed in the child)
//   cow_fault_reuse   the child has already exited: the kernel reuses the page, no copy
//   cow_fault_thp     a 2 MiB THP shared after fork, written 4 KiB at a time; the label says
//                     whether the kernel split the huge page or copied it whole
//   cow_fault_file    the first write to a MAP_PRIVATE file mapping whose page is in the page
//                     cache (do_cow_fault: copy from the page cache into a new anonymous page)
//   ref_fork_per_gib  fork() itself, per GiB of populated 4 KiB-page memory (a reference)
//   ref_copy_page     copying one 4 KiB page in user space, no fault (core/page_work): the
//                     memory-speed floor of the copies above, in their invocations
// Copies are proven, not assumed: private memory (smaps Private_Dirty) must grow by 4 KiB per
// write, and the partner must still read the original bytes after the writer's stores.
// Not modelled: COW with other threads of the mm running (TLB shootdown IPIs), KSM pages,
// pinned pages (GUP), shared-zero-page COW.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <memory>
#include <optional>
#include <vector>

#include <benchmark/benchmark.h>
#include <fmt/format.h>

#include "core/backing.hpp"
#include "core/child_batch.hpp"
#include "core/child_process.hpp"
#include "core/cow_partner.hpp"
#include "core/event_run.hpp"
#include "core/flags.hpp"
#include "core/mapping.hpp"
#include "core/page_region.hpp"
#include "core/page_work.hpp"
#include "core/pagemap.hpp"
#include "core/sysfs.hpp"
#include "core/temp_file.hpp"

namespace pageladder {
namespace {

constexpr char kOriginal = kCowOriginal;
constexpr char kWritten = kCowWritten;

// A base-page region whose event pages are real anonymous pages holding kOriginal.
struct OriginalPages {
  OriginalPages() : pages(region.events()) {
    region.populate(kOriginal);
    for (size_t i = 0; i < pages.size(); ++i) pages[i] = region.page(i);
  }
  BasePageRegion region;
  std::vector<char*> pages;
};

// The kernel's count of write faults it resolved by reusing the page instead of copying it
// (/proc/vmstat pgreuse, system-wide, readable without root): what tells reuse from copy for an
// unprivileged process. Other processes' reuses during a batch add to it (with_reuses).
std::optional<int64_t> page_reuses() { return read_keyed_integer("/proc/vmstat", "pgreuse"); }

// Reuses per event over the timed batches: begin() when a batch is armed, end() after it.
class ReuseCount {
 public:
  explicit ReuseCount(EventRun& run) : run_(run) {
    if (!page_reuses()) run.cannot_verify(kCounter, "this kernel has no pgreuse in /proc/vmstat");
  }
  void begin() { start_ = page_reuses(); }
  void end(size_t events) {
    const auto now = page_reuses();
    if (!start_ || !now) return;
    reuses_ += *now - *start_;
    events_ += events;
    start_.reset();
  }
  void finish() {
    if (page_reuses() && events_)
      run_.set_counter(kCounter, static_cast<double>(reuses_) / static_cast<double>(events_));
  }
  static constexpr const char* kCounter = "reuses_per_event";

 private:
  EventRun& run_;
  std::optional<int64_t> start_;
  int64_t reuses_ = 0;
  size_t events_ = 0;
};

void BM_CowFault(benchmark::State& state) {
  const OriginalPages original;
  const std::vector<char*>& pages = original.pages;
  Pagemap pagemap;
  EventRun run(state);
  ReuseCount reuses(run);
  std::unique_ptr<ChildProcess> holder;
  int64_t private_before = 0;
  run_batched_events(
      state, run,
      [&] {
        holder = fork_holder(pages);
        if (pagemap.count_exclusive(pages.front(), 1) != 0)
          run.invalidate("pages still exclusive after fork: not shared");
        private_before = private_dirty_kb(pages.front());
        reuses.begin();
        return pages.size();
      },
      [&](size_t i) { touch_write(pages[i], kWritten); },
      [&](size_t n) {
        reuses.end(n);
        check_copies(run, private_before, pages.front(), n, *holder);
        holder.reset();
        original.region.populate(kOriginal);  // writes into pages now private again: no fault, no copy
      });
  reuses.finish();
  run.finish();
}

// What a writing child adds to its report: how much its private memory grew.
struct ChildCopies {
  int64_t private_grew_kb = 0;
};

void BM_CowFaultChild(benchmark::State& state) {
  const OriginalPages original;
  const std::vector<char*>& pages = original.pages;
  EventRun run(state);
  const EventClock& clock = run.clock();
  record_child_batches(state, run, [&](uint64_t left) -> std::optional<std::vector<float>> {
    // The child writes exactly as many pages as iterations remain (at most a batch).
    const size_t n = static_cast<size_t>(std::min<uint64_t>(pages.size(), left));
    ChildProcess writer([&](int to_parent, int) {
      std::vector<float> ns(n, 0.f);  // faulted in before timing
      const int64_t private_before = private_dirty_kb(pages.front());
      BatchReport<ChildCopies> report;
      report.events = n;
      report.faults = time_each_event(clock, ns.data(), n,
                                      [&](size_t i) { touch_write(pages[i], kWritten); });
      report.extra.private_grew_kb = private_dirty_kb(pages.front()) - private_before;
      return send_batch(to_parent, report, ns.data()) ? 0 : 1;
    });
    BatchReport<ChildCopies> report;
    std::vector<float> batch;
    if (!receive_batch(writer, n, report, batch) || writer.wait() != 0) {
      state.SkipWithError("the writing child failed to report");
      return std::nullopt;
    }
    run.add_faults(report.faults);
    check_one_copy_per_write(run, report.extra.private_grew_kb, report.events,
                             "the child's private memory");
    for (const char* p : pages)
      if (touch_read(p) != kOriginal) {
        run.invalidate("the parent saw the child's stores: the pages were not copied");
        break;
      }
    return batch;
  });
  run.note("timed in the child; hardware counters are not read there");
  run.finish();
}

void BM_CowFaultReuse(benchmark::State& state) {
  const OriginalPages original;
  const std::vector<char*>& pages = original.pages;
  Pagemap pagemap;
  EventRun run(state);
  ReuseCount reuses(run);  // the proof without root: one reuse per write (its claim)
  if (private_dirty_kb(pages.front()) < 0)
    run.cannot_verify("copied_pages_per_write", "smaps shows no Private_Dirty here");
  std::vector<uint64_t> pfns;  // readable as root only: then every frame must be the same one
  int64_t private_before = 0;
  run_batched_events(
      state, run,
      [&] {
        ChildProcess gone([](int, int) { return 0; });
        gone.wait();  // the other mapping is gone before any write
        private_before = private_dirty_kb(pages.front());
        pfns.clear();
        for (const char* page : pages) pfns.push_back(pagemap.at(page)->pfn);
        reuses.begin();
        return pages.size();
      },
      [&](size_t i) { touch_write(pages[i], kWritten); },
      [&](size_t n) {
        reuses.end(n);
        const int64_t grew = private_dirty_kb(pages.front()) - private_before;
        if (private_before >= 0) record_copies(run, grew, n);
        if (grew != 0)
          run.invalidate(fmt::format("private memory grew by {} kB: pages were copied", grew));
        // A copy moves every written page to a new frame; the kernel may also migrate a page
        // or two meanwhile (compaction), which is no copy: only a majority moved is a copy.
        size_t moved = 0;
        for (size_t k = 0; k < pfns.size(); ++k) moved += pfns[k] != 0 && pagemap.at(pages[k])->pfn != pfns[k];
        if (moved * 2 > n)
          run.invalidate(fmt::format("{} of {} written pages moved to another frame: they were copied", moved, n));
        else if (moved)
          run.note(fmt::format("{} of {} pages changed frames (migrated by the kernel, not copied)", moved, n));
        run.note(pfns.front() == 0
                     ? "no copy: the kernel counted a page reuse per write (frame numbers need root)"
                     : "no copy: the kernel counted a page reuse per write and every page kept its frame");
      });
  reuses.finish();
  run.finish();
}

void BM_CowFaultThp(benchmark::State& state) {
  if (auto why = why_no_thp()) {
    skip(state, *why);
    return;
  }
  const size_t huge = thp_size(), subpages = huge / page_size();
  Mapping mapping = Mapping::anonymous(huge, Backing::kHugePages);
  std::vector<char*> pages(subpages);
  for (size_t i = 0; i < subpages; ++i) pages[i] = mapping.data() + i * page_size();
  EventRun run(state);
  std::unique_ptr<ChildProcess> holder;
  int64_t private_before = 0;
  run_batched_events(
      state, run,
      [&] {
        // A fresh mapping each batch, not MADV_DONTNEED: the last batch's copy-on-write split the
        // huge page, and before Linux 6.14 (PT_RECLAIM) MADV_DONTNEED keeps the page table that
        // split left, so no huge page could be mapped there again. munmap frees it.
        mapping = Mapping::anonymous(huge, Backing::kHugePages);
        for (size_t i = 0; i < subpages; ++i) pages[i] = mapping.data() + i * page_size();
        for (char* p : pages) touch_write(p, kOriginal);
        if (anon_huge_kb(mapping.data()).value_or(0) * 1024 != static_cast<int64_t>(huge))
          run.invalidate("the region was not backed by a huge page before fork");
        holder = fork_holder(pages);
        private_before = private_dirty_kb(mapping.data());
        return subpages;
      },
      [&](size_t i) { touch_write(pages[i], kWritten); },
      [&](size_t n) {
        if (anon_huge_kb(mapping.data()).value_or(0) == 0) {
          run.note("the kernel split the shared huge page and copied 4 KiB per first write");
          check_copies(run, private_before, mapping.data(), n, *holder);
        } else {
          run.note("the kernel copied the whole huge page on the first write");
          check_holder_unchanged(run, *holder);
        }
        holder.reset();
      });
  run.finish();
}

void BM_CowFaultFile(benchmark::State& state) {
  const BasePageRegion layout(1);  // only for its event count: the same batch size as the rest
  const size_t pages = layout.events();
  TempFile file = TempFile::create(default_temp_dir());
  if (!file) {
    skip(state, file.error());
    return;
  }
  if (!file.fill(pages * page_size())) {
    skip(state, file.error());
    return;
  }
  Mapping mapping = Mapping::file(file.fd(), pages * page_size(), PROT_READ | PROT_WRITE, MAP_PRIVATE);
  mapping.advise(MADV_NOHUGEPAGE);
  EventRun run(state);
  run.note(fmt::format("file in {} ({}), unlinked while open", file.directory(), file.filesystem()));
  int64_t private_before = 0;
  bool first = true;
  run_batched_events(
      state, run,
      [&] {
        // Before the first batch, one untimed write per page allocates the page tables, which
        // MADV_DONTNEED keeps: no timed fault allocates one.
        if (first)
          for (size_t i = 0; i < pages; ++i) touch_write(mapping.data() + i * page_size(), kOriginal);
        first = false;
        mapping.discard();  // drops the private copies; the page cache (the file) stays
        private_before = private_dirty_kb(mapping.data());
        return pages;
      },
      [&](size_t i) { touch_write(mapping.data() + i * page_size(), kWritten); },
      [&](size_t n) {
        check_one_copy_per_write(run, private_dirty_kb(mapping.data()) - private_before, n);
        if (!file.unchanged(0, n * page_size()))
          run.invalidate("the file changed: the writes reached the page cache, not a copy");
      });
  run.finish();
}

// A process holding `bytes` of populated 4 KiB pages that, on each request, forks a child that
// exits at once and reports how long fork() took, in ns (-1 if it failed).
std::unique_ptr<ChildProcess> forker(size_t bytes, const EventClock& clock) {
  return std::make_unique<ChildProcess>([bytes, &clock](int to_parent, int from_parent) {
    Mapping mapping = Mapping::anonymous(bytes, Backing::kBasePages);
    for (size_t off = 0; off < bytes; off += page_size()) touch_write(mapping.data() + off);
    for (;;) {
      char request = 0;
      if (::read(from_parent, &request, 1) != 1) return 0;  // the parent is done
      const uint64_t t0 = clock.start();
      const pid_t pid = fork();
      if (pid == 0) _exit(0);
      const uint64_t t1 = clock.stop();
      if (pid > 0) waitpid(pid, nullptr, 0);
      const double ns = pid > 0 ? clock.to_ns(t1 - t0) : -1;
      if (!write_all(to_parent, &ns, sizeof ns)) return 1;
    }
  });
}

// fork() per GiB as the slope between two sizes, so fork's fixed cost (the mm, the VMAs, the
// new task) is not scaled up with it: each event times one fork of a process with 32 MiB of
// populated memory and one with 544 MiB, and is their difference per GiB. The difference is
// half a GiB: at 128 MiB, fork's own noise on a virtual machine (a few ms) made two of four
// quick runs' slopes negative. The two processes are made once per process (populating them
// costs more than the forks), so Google Benchmark's calls of the row share them.
void BM_ForkPerGiB(benchmark::State& state) {
  constexpr size_t kSmall = size_t{32} << 20, kLarge = size_t{544} << 20;
  const double per_gib = static_cast<double>(size_t{1} << 30) / static_cast<double>(kLarge - kSmall);
  EventRun run(state);
  const EventClock& clock = run.clock();
  static std::unique_ptr<ChildProcess> small, large;
  const auto fork_ns = [](ChildProcess& p) {
    double ns = -1;
    return p.signal_child() && p.read(&ns, sizeof ns) ? ns : -1.0;
  };
  if (!small) {
    small = forker(kSmall, clock);
    large = forker(kLarge, clock);
    // The first forks after populating run colder (page tables and mm state out of the caches):
    // a few untimed pairs first, so every timed pair is a steady one.
    for (int warm = 0; warm < 3; ++warm) {
      fork_ns(*small);
      fork_ns(*large);
    }
  }
  for (auto _ : state) {
    const double a = fork_ns(*small), b = fork_ns(*large);
    if (a < 0 || b < 0) {
      state.SkipWithError("fork failed");
      break;
    }
    run.record_ns((b - a) * per_gib);
  }
  if (run.mean_ns() <= 0)
    run.invalidate("the larger process forked no slower than the smaller one: no slope to report");
  run.note("fork() timed at 32 MiB and 544 MiB of populated 4 KiB pages, the difference scaled to "
           "1 GiB (the slope: fork's fixed cost left out); timed in the forking processes");
  run.finish();
}

// A row's fault claims plus its bounds on reuses per event. pgreuse is system-wide, and other
// processes' reuses during a batch only add to it (a smoke batch of 100 events saw 6 on an idle
// machine): a reuse row claims at least one per write and no upper bound, a copy row at most
// half of one (a reuse would give one per write), so neither rests on a quiet machine.
std::vector<Claim> with_reuses(std::vector<Claim> claims, Range reuses) {
  claims.push_back({ReuseCount::kCounter, reuses});
  return claims;
}

// A row's claims plus the pages of private memory each write added (smaps Private_Dirty): one
// for a copy, none for a reuse.
std::vector<Claim> with_copies(std::vector<Claim> claims, double pages) {
  claims.push_back({"copied_pages_per_write", {pages - (pages ? 0.01 : 0), pages + (pages ? 0.01 : 0)}});
  return claims;
}

void register_rows() {
  add_row({.id = "cow_fault",
           .label = "first write by the parent to a 4 KiB page it shares with a live forked child "
                    "(copy-on-write)",
           .family = "cow",
           .event = "one write to a shared page",
           .claims = with_copies(with_reuses(one_minor_fault(), {0, 0.5}), 1),
           .ladder_rank = 80, .headline = true, .anatomy = true},
          BM_CowFault);
  add_row({.id = "cow_fault_child",
           .label = "first write by a forked child to a 4 KiB page it shares with its live parent "
                    "(copy-on-write, timed in the child)",
           .family = "cow",
           .event = "one write to a shared page",
           .claims = with_copies(one_minor_fault(), 1),
           .ladder_rank = 90, .anatomy = true},
          BM_CowFaultChild);
  add_row({.id = "cow_fault_reuse",
           .label = "write to a write-protected 4 KiB page whose forked sharer has exited "
                    "(the kernel reuses it, no copy)",
           .family = "cow",
           .event = "one write to a write-protected page",
           .claims = with_copies(with_reuses(one_minor_fault(), {0.99, kUnbounded}), 0),
           .ladder_rank = 100, .anatomy = true},
          BM_CowFaultReuse);
  add_row({.id = "cow_fault_thp",
           .label = "first write to each 4 KiB of a 2 MiB transparent huge page shared after fork",
           .family = "cow",
           .event = "one write to 4 KiB of a shared huge page",
           .claims = one_minor_fault(),
           .ladder_rank = 110, .anatomy = true,
           .needs = "transparent huge pages (CONFIG_TRANSPARENT_HUGEPAGE; Debian's PREEMPT_RT 6.1 has none)"},
          BM_CowFaultThp);
  add_row({.id = "cow_fault_file",
           .label = "first write to a MAP_PRIVATE file page that is in the page cache (copied "
                    "into a private page)",
           .family = "cow",
           .event = "one write to a private file page",
           .claims = with_copies(one_minor_fault(), 1),
           .ladder_rank = 120, .anatomy = true},
          BM_CowFaultFile);
  // The forks happen in the forking processes: this process takes no fault per event.
  add_row({.id = "ref_fork_per_gib",
           .label = "fork() cost per GiB of populated 4 KiB-page memory, the slope between two "
                    "sizes (reference)",
           .family = "reference",
           .event = "one fork() at each of two sizes, their difference per GiB",
           .claims = fault_claims({0, 0.01}, {0, 0}),
           .unit = benchmark::kMillisecond,
           .ladder_rank = 130},
          BM_ForkPerGiB);
  add_row({.id = "ref_copy_page",
           .label = "copying one 4 KiB page in user space, cold in the caches (memory-speed reference)",
           .family = "reference",
           .event = "one memcpy of a 4 KiB page",
           .claims = fault_claims({0, 0}, {0, 0}),
           .unit = benchmark::kNanosecond,
           .ladder_rank = 75, .memory_reference = true},
          [](benchmark::State& s) { page_work_row(s, PageWork::kCopy); });
}

const Registrar registrar(register_rows);

}  // namespace
}  // namespace pageladder
