// segv_fault_bench: the fault the kernel cannot satisfy, handled in user space.
//
// A write to a page the process may not write (PROT_READ): the CPU raises #PF, the kernel finds
// the access violates the VMA's protection (bad_area), queues SIGSEGV and delivers it on the way
// back to user space; the handler runs on the signal frame and returns. One event = one such
// write, timed around the store, end to end. Rows:
//   segv_fault          the handler repairs the protection (mprotect the page writable) and
//                       returns, so the store retries and succeeds: how garbage collectors,
//                       sandboxes and write barriers meet it (fault + signal + mprotect + sigreturn)
//   segv_fault_longjmp  the handler leaves with siglongjmp instead; the store is abandoned
// Each page is written once per batch; batches re-protect the pages outside the timed region.
// Verified per event: one signal delivered (the handler counts them) and no fault the kernel
// resolved itself (getrusage and perf minor/major 0: the fault failed, the signal is the event).
// Not modelled: SIGBUS, faults in the kernel on user addresses (copy_from_user -EFAULT),
// alternate signal stacks, many threads taking signals at once.
#include <setjmp.h>
#include <signal.h>
#include <sys/mman.h>

#include <atomic>
#include <cstring>

#include <benchmark/benchmark.h>
#include <fmt/format.h>

#include "core/event_run.hpp"
#include "core/flags.hpp"
#include "core/mapping.hpp"

namespace pageladder {
namespace {

constexpr size_t kPages = 512;

std::atomic<int64_t> signals{0};  // lock-free: safe to count in the handler
static_assert(std::atomic<int64_t>::is_always_lock_free);
sigjmp_buf escape;
bool leave_by_longjmp = false;

void on_segv(int, siginfo_t* info, void*) {
  signals.fetch_add(1, std::memory_order_relaxed);
  char* page = reinterpret_cast<char*>(reinterpret_cast<uintptr_t>(info->si_addr) & ~(page_size() - 1));
  mprotect(page, page_size(), PROT_READ | PROT_WRITE);  // async-signal-safe
  if (leave_by_longjmp) siglongjmp(escape, 1);
}

// Installs the handler for the row's lifetime and puts the previous one back.
class SegvHandler {
 public:
  SegvHandler() {
    struct sigaction sa {};
    sa.sa_sigaction = on_segv;
    sa.sa_flags = SA_SIGINFO | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGSEGV, &sa, &previous_);
  }
  ~SegvHandler() { sigaction(SIGSEGV, &previous_, nullptr); }
  SegvHandler(const SegvHandler&) = delete;
  SegvHandler& operator=(const SegvHandler&) = delete;

 private:
  struct sigaction previous_ {};
};

void segv_row(benchmark::State& state, bool longjmp_out) {
  Mapping mapping = Mapping::anonymous(kPages * page_size(), Backing::kBasePages);
  for (size_t i = 0; i < kPages; ++i) touch_write(mapping.data() + i * page_size());  // populated
  const SegvHandler handler;
  leave_by_longjmp = longjmp_out;
  EventRun run(state);
  uint64_t events = 0;
  const int64_t signals_before = signals.load();
  run_batched_events(
      state, run,
      [&] {
        mprotect(mapping.data(), mapping.size(), PROT_READ);  // every page read-only: each write traps
        return kPages;
      },
      [&](size_t i) {
        char* page = mapping.data() + i * page_size();
        if (longjmp_out) {
          // The mask needs no saving: SA_NODEFER leaves SIGSEGV unblocked in the handler.
          if (sigsetjmp(escape, 0) == 0) touch_write(page);
        } else {
          touch_write(page);  // traps, the handler makes it writable, the store retries
        }
        ++events;
      },
      [&](size_t) {});
  leave_by_longjmp = false;
  run.set_counter("signals_per_event",
                  events ? static_cast<double>(signals.load() - signals_before) / static_cast<double>(events) : 0);
  run.note(longjmp_out ? "handler repairs the protection and leaves with siglongjmp"
                       : "handler repairs the protection (mprotect) and returns; the store retries");
  run.finish();
}

void register_rows() {
  // The fault is one the kernel could not resolve: it counts no minor or major fault for it.
  std::vector<Claim> claims = fault_claims({0, 0}, {0, 0});
  claims.push_back({"signals_per_event", {1, 1}});
  add_row({.id = "segv_fault",
           .label = "write to a write-protected page: SIGSEGV, a handler that makes the page "
                    "writable and returns, the store retried",
           .family = "signals",
           .event = "one write that traps, is repaired and retried",
           .claims = claims,
           .ladder_rank = 260, .headline = true, .anatomy = true},
          [](benchmark::State& s) { segv_row(s, false); });
  add_row({.id = "segv_fault_longjmp",
           .label = "write to a write-protected page: SIGSEGV, a handler that leaves with siglongjmp",
           .family = "signals",
           .event = "one write that traps and is abandoned",
           .claims = claims,
           .ladder_rank = 270, .anatomy = true},
          [](benchmark::State& s) { segv_row(s, true); });
}

const Registrar registrar(register_rows);

}  // namespace
}  // namespace pageladder
