// file_fault_bench: page faults on file mappings, from the page cache and from storage.
//
// A read of a mapped file page that has no PTE yet goes to the filesystem's fault handler
// (filemap_fault). If the page is in the page cache it is mapped at once (a minor fault), and
// fault-around maps up to fault_around_bytes of already-cached neighbours with it; if not, the
// kernel reads it from storage and the process sleeps on the I/O (a major fault). Rows:
//   file_fault_cached          MAP_SHARED read fault, page cached; a fresh mapping per batch,
//                              touches 64 KiB apart so every touch faults; pages mapped per
//                              fault and the cost per page are reported beside the cost per fault
//   file_fault_cached_private  the same through MAP_PRIVATE
//   file_fault_major           read fault on an evicted page: MADV_RANDOM (no read-around),
//                              random page order, so each fault reads exactly one page
//   file_read_cold_seq         a cold file read sequentially with the kernel's default
//                              readahead: the cost per 4 KiB page, most pages never fault
//   file_fault_tmpfs           the read fault on a tmpfs (shmem) file, as a reference
//   ref_direct_read            a 4 KiB O_DIRECT pread at a random offset of the same file: the
//                              storage's own latency beside the major fault
// The file lives in --pageladder_file_dir (FILE_DIR=, default /var/tmp: persistent storage),
// is unnamed (O_TMPFILE) so nothing is left behind even after SIGKILL, holds non-uniform bytes,
// and is written in 4 KiB pieces so its page cache holds base pages (large folios would let one
// fault map 2 MiB). Eviction is fsync + POSIX_FADV_DONTNEED, checked with mincore. A cached
// row claims one fault per event and no byte read from storage (/proc/self/io), not the fault's
// class: Linux 6.1 counts a cached fault that had to be retried (folio locked, async readahead
// started with the mmap lock dropped) as major although nothing was read.
// Not modelled: write faults and dirtying (page_mkwrite), files larger than memory, mmap I/O from
// several threads (TLB shootdowns under eviction), NFS and FUSE.
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <numeric>
#include <random>
#include <vector>

#include <benchmark/benchmark.h>
#include <fmt/format.h>

#include "core/child_process.hpp"
#include "core/event_run.hpp"
#include "core/flags.hpp"
#include "core/mapping.hpp"
#include "core/pagemap.hpp"
#include "core/sysfs.hpp"
#include "core/temp_file.hpp"

namespace pageladder {
namespace {

size_t file_bytes() { return (quick() ? size_t{32} : size_t{64}) << 20; }
size_t file_pages() { return file_bytes() / page_size(); }

// fault_around_bytes when debugfs shows it, else the kernel default (64 KiB).
size_t fault_around_bytes() {
  return static_cast<size_t>(
      read_integer("/sys/kernel/debug/fault_around_bytes").value_or(64 * 1024));
}

// One test file per directory, shared by the rows (writing it costs more than a row).
struct Prepared {
  TempFile file;
  std::string problem;
};

Prepared& prepared(const std::string& directory) {
  static std::map<std::string, std::unique_ptr<Prepared>> files;
  auto& slot = files[directory];
  if (!slot) {
    slot = std::make_unique<Prepared>(Prepared{TempFile::create(directory), ""});
    if (!slot->file) {
      slot->problem = slot->file.error();
    } else if (!slot->file.fill(file_bytes(), page_size())) {
      slot->problem = slot->file.error();
    }
    maybe_inject_crash("after_file");
  }
  return *slot;
}

std::string file_dir() { return flag("file_dir").value_or(default_temp_dir()); }

// The prepared file, or skips the row with the reason and returns null.
const TempFile* file_or_skip(benchmark::State& state, const std::string& directory) {
  Prepared& p = prepared(directory);
  if (!p.problem.empty()) {
    skip(state, p.problem);
    return nullptr;
  }
  return &p.file;
}

// The whole file in the page cache, as base pages (its own 4 KiB writes put it there; pread
// brings back anything an earlier row evicted without readahead's large folios).
void make_resident(const TempFile& file) {
  posix_fadvise(file.fd(), 0, static_cast<off_t>(file_bytes()), POSIX_FADV_RANDOM);
  std::vector<char> page(page_size());
  if (file.resident_pages(file_bytes()) < file_pages())
    for (size_t off = 0; off < file_bytes(); off += page_size())
      if (pread(file.fd(), page.data(), page.size(), static_cast<off_t>(off)) < 0) break;
  posix_fadvise(file.fd(), 0, static_cast<off_t>(file_bytes()), POSIX_FADV_NORMAL);
}

void describe_storage(EventRun& run, const TempFile& file) {
  run.note(fmt::format("file in {}: {}", file.directory(), file.storage()));
  // Part of what the row measured: a quick run's file is smaller (compare tells them apart).
  run.set_counter("file_mib", static_cast<double>(file_bytes() >> 20));
  if (const auto ra = file.read_ahead_kb()) run.set_counter("read_ahead_kb", static_cast<double>(*ra));
}

// A new mapping has no page tables: the first fault in each page table's span (2 MiB of
// address space with 4 KiB pages) also allocates one. So that no timed fault pays for that, each
// batch first reads one anchor page per span, outside the timed and counted region; anchors,
// and whatever their faults mapped beside them, are never events.
std::vector<size_t> page_table_anchors(const Mapping& mapping) {
  const uintptr_t span = page_size() * (page_size() / sizeof(uint64_t));
  const auto start = reinterpret_cast<uintptr_t>(mapping.data());
  std::vector<size_t> pages;
  for (uintptr_t a = start; a < start + mapping.size(); a = (a / span + 1) * span)
    pages.push_back((a - start) / page_size());
  return pages;
}

void touch_anchors(const Mapping& mapping, const std::vector<size_t>& anchors) {
  for (size_t page : anchors) touch_read(mapping.data() + page * page_size());
}

void cached_read_faults(benchmark::State& state, const TempFile& file, int map_flags) {
  const size_t stride = std::max(page_size(), fault_around_bytes());
  make_resident(file);
  if (file.resident_pages(file_bytes()) < file_pages()) {
    skip(state, "the file did not stay in the page cache (memory pressure?)");
    return;
  }
  Pagemap pagemap;
  EventRun run(state);
  describe_storage(run, file);
  Mapping mapping;
  std::vector<char*> targets;  // one per stride, none that an anchor's fault already mapped
  size_t mapped = 0, faults = 0, anchored = 0;
  // Bytes this process had read from storage (/proc/self/io): none may be read by a batch whose
  // pages were all cached. What proves the page came from the page cache on every kernel: 6.1
  // counts a cached fault that was retried (the folio locked, async readahead started) as major.
  const auto storage_read = [] { return read_keyed_integer("/proc/self/io", "read_bytes"); };
  std::optional<int64_t> read_before;
  int64_t read_during = 0;
  bool io_known = storage_read().has_value();
  run_batched_events(
      state, run,
      [&] {
        mapping = Mapping::file(file.fd(), file_bytes(), PROT_READ, map_flags);
        mapping.advise(MADV_NOHUGEPAGE);
        touch_anchors(mapping, page_table_anchors(mapping));
        anchored = pagemap.count_present(mapping.data(), file_pages());
        targets.clear();
        for (size_t off = 0; off < file_bytes(); off += stride)
          if (!pagemap.at(mapping.data() + off).value_or(PageState{}).present)
            targets.push_back(mapping.data() + off);
        // Every page still cached (a tmpfs page can be swapped out, a file page reclaimed): a
        // fault that brings one back from zswap or zram reads no byte through the block layer.
        if (file.resident_pages(file_bytes()) < file_pages())
          run.invalidate("pages of the file left the page cache before a batch (memory pressure?)");
        read_before = storage_read();
        return targets.size();
      },
      [&](size_t i) { touch_read(targets[i]); },
      [&](size_t n) {
        const auto read_after = storage_read();
        if (read_before && read_after) read_during += *read_after - *read_before;
        else io_known = false;
        mapped += pagemap.count_present(mapping.data(), file_pages()) - anchored;
        faults += n;
      });
  const double per_fault = faults ? static_cast<double>(mapped) / static_cast<double>(faults) : 0;
  run.set_counter("pages_mapped_per_fault", per_fault);
  run.set_counter("ns_per_page", per_fault > 0 ? run.mean_ns() / per_fault : 0);
  run.set_counter("fault_around_bytes", static_cast<double>(fault_around_bytes()));
  if (io_known)
    run.set_counter("storage_bytes_per_event", faults ? static_cast<double>(read_during) / static_cast<double>(faults) : 0);
  else
    run.cannot_verify("storage_bytes_per_event", "no /proc/self/io (CONFIG_TASK_IO_ACCOUNTING)");
  run.note(fmt::format("{:.1f} pages mapped per fault (fault-around {} KiB)", per_fault,
                       fault_around_bytes() / 1024));
  run.finish();
}

void BM_FileFaultCached(benchmark::State& state) {
  if (const TempFile* file = file_or_skip(state, file_dir()))
    cached_read_faults(state, *file, MAP_SHARED);
}

void BM_FileFaultCachedPrivate(benchmark::State& state) {
  if (const TempFile* file = file_or_skip(state, file_dir()))
    cached_read_faults(state, *file, MAP_PRIVATE);
}

void BM_FileFaultTmpfs(benchmark::State& state) {
  const std::string shm = "/dev/shm";
  if (read_file("/proc/mounts").value_or("").find(" /dev/shm tmpfs ") == std::string::npos) {
    skip(state, "no tmpfs mounted at /dev/shm");
    return;
  }
  if (const TempFile* file = file_or_skip(state, shm)) cached_read_faults(state, *file, MAP_SHARED);
}

// Unmaps the file, evicts it (checking that none of it is left in the page cache) and maps it
// afresh with the given advice: a cold mapping for the next batch.
void remap_cold(EventRun& run, const TempFile& file, Mapping& mapping, int advice) {
  mapping.reset();
  // Pages still under readahead I/O cannot be evicted yet: a transient, so wait and try again
  // before calling the batch not cold.
  size_t left = file.evict(file_bytes());
  for (int attempt = 0; left != 0 && attempt < 50; ++attempt) {
    usleep(10000);
    left = file.evict(file_bytes());
  }
  if (left != 0) run.invalidate(fmt::format("{} pages still resident after eviction", left));
  mapping = Mapping::file(file.fd(), file_bytes(), PROT_READ, MAP_SHARED);
  mapping.advise(advice);
}

std::vector<size_t> shuffled(size_t n, uint64_t seed) {
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), size_t{0});
  std::shuffle(order.begin(), order.end(), std::mt19937_64(seed));
  return order;
}

void BM_FileFaultMajor(benchmark::State& state) {
  const TempFile* file = file_or_skip(state, file_dir());
  if (!file) return;
  EventRun run(state);
  describe_storage(run, *file);
  const std::vector<size_t> order = shuffled(file_pages(), 7);
  const size_t batch = std::min<size_t>(order.size(), 2048);
  Mapping mapping;
  std::vector<char*> targets;
  size_t next = 0;  // where in `order` the next batch starts
  run_batched_events(
      state, run,
      [&] {
        remap_cold(run, *file, mapping, MADV_RANDOM);  // no read-around: one page per fault
        const std::vector<size_t> anchors = page_table_anchors(mapping);
        touch_anchors(mapping, anchors);
        targets.clear();
        while (targets.size() < batch) {
          const size_t page = order[next++ % order.size()];
          if (std::find(anchors.begin(), anchors.end(), page) == anchors.end())
            targets.push_back(mapping.data() + page * page_size());
        }
        return targets.size();
      },
      [&](size_t i) { touch_read(targets[i]); },
      [&](size_t) {});
  run.note("MADV_RANDOM, random page order: each fault reads one page from storage; page tables "
           "allocated before timing");
  run.finish();
}

void BM_FileReadColdSequential(benchmark::State& state) {
  const TempFile* file = file_or_skip(state, file_dir());
  if (!file) return;
  // One event is one page; only some pages fault (readahead brings the rest).
  EventRun run(state);
  describe_storage(run, *file);
  Mapping mapping;
  std::vector<char*> targets;
  run_batched_events(
      state, run,
      [&] {
        // The anchors are read without readahead, then the mapping gets the default back.
        remap_cold(run, *file, mapping, MADV_RANDOM);
        const std::vector<size_t> anchors = page_table_anchors(mapping);
        touch_anchors(mapping, anchors);
        mapping.advise(MADV_NORMAL);
        mapping.advise(MADV_NOHUGEPAGE);
        targets.clear();
        for (size_t page = 0; page < file_pages(); ++page)
          if (std::find(anchors.begin(), anchors.end(), page) == anchors.end())
            targets.push_back(mapping.data() + page * page_size());
        return targets.size();
      },
      [&](size_t i) { touch_read(targets[i]); },
      [&](size_t) {});
  run.note("one event = one 4 KiB page read in order from a cold file, default readahead "
           "(one anchor page per page table read beforehand, not timed)");
  run.finish();
}

void BM_DirectRead(benchmark::State& state) {
  const TempFile* file = file_or_skip(state, file_dir());
  if (!file) return;
  const int fd = file->reopen(O_RDONLY | O_DIRECT);
  if (fd < 0) {
    skip(state, fmt::format("{} does not support O_DIRECT ({})", file->directory(),
                            std::strerror(-fd)));
    return;
  }
  Mapping buffer = Mapping::anonymous(page_size(), Backing::kBasePages);
  touch_write(buffer.data());
  EventRun run(state);
  describe_storage(run, *file);
  const std::vector<size_t> order = shuffled(file_pages(), 11);
  bool failed = false;
  run_batched_events(
      state, run, [&] { return order.size(); },
      [&](size_t i) {
        failed |= pread(fd, buffer.data(), page_size(), static_cast<off_t>(order[i] * page_size())) !=
                  static_cast<ssize_t>(page_size());
      },
      [&](size_t) {});
  close(fd);
  if (failed) run.invalidate("an O_DIRECT read failed or came back short");
  run.note("4 KiB O_DIRECT pread at random offsets of the same file");
  run.finish();
}

// One fault per event, of either class, and nothing read from storage: the page was cached.
std::vector<Claim> cached_fault_claims() {
  return {{"faults_per_event", {0.99, 1.01}}, {"storage_bytes_per_event", {0, 0}}};
}

void register_rows() {
  add_row({.id = "file_fault_cached",
           .label = "read fault on a shared file mapping whose page is in the page cache",
           .family = "file",
           .event = "one read of an unmapped, cached file page",
           .claims = cached_fault_claims(),
           .defined_by = {"file_mib"},
           .ladder_rank = 140, .headline = true, .anatomy = true},
          BM_FileFaultCached);
  add_row({.id = "file_fault_cached_private",
           .label = "read fault on a MAP_PRIVATE file mapping whose page is in the page cache",
           .family = "file",
           .event = "one read of an unmapped, cached file page",
           .claims = cached_fault_claims(),
           .defined_by = {"file_mib"},
           .ladder_rank = 150, .anatomy = true},
          BM_FileFaultCachedPrivate);
  add_row({.id = "file_fault_tmpfs",
           .label = "read fault on a tmpfs (shmem) file mapping (reference)",
           .family = "reference",
           .event = "one read of an unmapped tmpfs page",
           .claims = cached_fault_claims(),
           .defined_by = {"file_mib"},
           .ladder_rank = 160, .anatomy = true},
          BM_FileFaultTmpfs);
  add_row({.id = "file_fault_major",
           .label = "read fault on a file mapping whose page is not cached, read from storage",
           .family = "file",
           .event = "one read of a cold file page",
           .claims = fault_claims({0, 0.01}, {0.99, 1.01}),
           .defined_by = {"file_mib"},
           .ladder_rank = 170, .headline = true, .anatomy = true,
           .needs = "FILE_DIR on persistent storage (not tmpfs): a page not cached is read from the device"},
          BM_FileFaultMajor);
  // One event is one page; only some pages fault (readahead brings the rest in). More than one
  // fault in four pages would mean readahead is not what is being measured.
  add_row({.id = "file_read_cold_seq",
           .label = "sequential read of a cold mapped file with default readahead, per 4 KiB page",
           .family = "file",
           .event = "one 4 KiB page read in order",
           .claims = fault_claims({0, 0.25}, {0, 0.25}),
           .defined_by = {"file_mib"},
           .ladder_rank = 180,
           .needs = "FILE_DIR on persistent storage (not tmpfs)"},
          BM_FileReadColdSequential)
      // Enough pages per repetition that readahead's first fault does not stand for the whole
      // (a repetition of one page is one fault per page), however short a run asks for.
      ->MinTime(0.05);
  add_row({.id = "ref_direct_read",
           .label = "4 KiB O_DIRECT read at a random offset of the test file (reference)",
           .family = "reference",
           .event = "one pread() of 4 KiB",
           .claims = fault_claims({0, 0}, {0, 0}),
           .defined_by = {"file_mib"},
           .ladder_rank = 190,
           .needs = "O_DIRECT reads on FILE_DIR's filesystem"},
          BM_DirectRead);
}

const Registrar registrar(register_rows);

}  // namespace
}  // namespace pageladder
