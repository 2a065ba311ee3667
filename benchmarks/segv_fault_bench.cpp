// segv_fault_bench: the fault the kernel cannot satisfy, handled in user space.
//
// A write to a page the process may not write (PROT_READ): the CPU raises #PF, the kernel finds
// the access violates the VMA's protection (bad_area), queues SIGSEGV and delivers it on the way
// back to user space: it saves the thread's registers and extended state (XSAVE: AVX-512 where
// the CPU has it) in a signal frame on the stack; the handler runs on that frame and returns
// through sigreturn, which restores them. One event = one such write, timed around the store,
// end to end. Rows, by how the handler ends the fault:
//   segv_fault_redirect  it points the store at a writable page (the faulting instruction's
//                        address register, in the saved context) and returns: the fault, the
//                        signal's delivery and sigreturn, nothing else (x86-64)
//   segv_fault           it makes the page writable (mprotect: the VMA split, and merged again
//                        by the next batch's mprotect) and returns, so the store retries: how
//                        garbage collectors, sandboxes and write barriers meet it
//   segv_fault_longjmp   it leaves with siglongjmp; the store is abandoned (no sigreturn)
// and two references that split segv_fault into its parts (fault + delivery + the handler's work):
//   ref_signal_self      a signal the thread sends itself (tgkill), delivered on the way
//                        out of that system call and handled: delivery and sigreturn, no fault
//   ref_mprotect         the handler's work alone: mprotect of one page of a read-only region
//                        to read-write (the VMA split), outside any signal
// Each page is written once per batch; batches re-protect the pages outside the timed region.
// Verified per event: one signal delivered (the handler counts them) and no fault the kernel
// resolved itself (getrusage and perf minor/major 0: the fault failed, the signal is the event);
// for the redirect, that every protected page still holds what it held. Recorded: the stack the
// delivery took (from the interrupted stack pointer to the handler's frame: the signal frame,
// the red zone, alignment) and the kernel's minimum signal stack (AT_MINSIGSTKSZ), both of which
// grow with the CPU's extended state. Not modelled: SIGBUS, faults in the kernel on user
// addresses (copy_from_user -EFAULT), alternate signal stacks, many threads taking signals.
#include <setjmp.h>
#include <signal.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#include <algorithm>
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
constexpr char kHeld = 1;     // what every protected page holds
constexpr char kStored = 2;   // what the redirected store writes

// How the handler ends the fault.
enum class Exit { kMprotect, kRedirect, kLongjmp };

// Counts the signals a thread sends itself (ref_signal_self).
std::atomic<int64_t> raised{0};
void on_raised(int) { raised.fetch_add(1, std::memory_order_relaxed); }

// The handler's state: lock-free atomics and plain words set outside it, so it stays
// async-signal-safe.
std::atomic<int64_t> signals{0};
std::atomic<int64_t> deepest_frame{0};  // the most stack a delivery took, in bytes
static_assert(std::atomic<int64_t>::is_always_lock_free);
sigjmp_buf escape;
Exit exit_by = Exit::kMprotect;
char* redirect_to = nullptr;

void on_segv(int, siginfo_t* info, void* context) {
  signals.fetch_add(1, std::memory_order_relaxed);
  auto* saved = static_cast<ucontext_t*>(context);
#if defined(__x86_64__)
  const auto interrupted_sp = static_cast<int64_t>(saved->uc_mcontext.gregs[REG_RSP]);
  const int64_t used = interrupted_sp - reinterpret_cast<int64_t>(__builtin_frame_address(0));
  if (used > deepest_frame.load(std::memory_order_relaxed)) deepest_frame.store(used, std::memory_order_relaxed);
#endif
  switch (exit_by) {
    case Exit::kMprotect: {
      char* page = reinterpret_cast<char*>(reinterpret_cast<uintptr_t>(info->si_addr) & ~(page_size() - 1));
      mprotect(page, page_size(), PROT_READ | PROT_WRITE);  // async-signal-safe
      return;
    }
    case Exit::kRedirect:
#if defined(__x86_64__)
      saved->uc_mcontext.gregs[REG_RDI] = reinterpret_cast<greg_t>(redirect_to);
#endif
      return;
    case Exit::kLongjmp:
      siglongjmp(escape, 1);
  }
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

// One store of kStored through the address register the redirecting handler rewrites (an
// in-out operand: after the signal it holds the scratch page, not p).
inline void store_through_rdi(char* p) {
#if defined(__x86_64__)
  asm volatile("movb %1, (%0)" : "+D"(p) : "i"(kStored) : "memory");
#else
  *static_cast<volatile char*>(p) = kStored;
#endif
}

void segv_row(benchmark::State& state, Exit how) {
#if !defined(__x86_64__)
  if (how == Exit::kRedirect) {
    skip(state, "redirecting the faulting store needs its saved registers' layout (x86-64 only here)");
    return;
  }
#endif
  Mapping mapping = Mapping::anonymous(kPages * page_size(), Backing::kBasePages);
  Mapping scratch = Mapping::anonymous(page_size(), Backing::kBasePages);
  for (size_t i = 0; i < kPages; ++i) touch_write(mapping.data() + i * page_size(), kHeld);  // populated
  touch_write(scratch.data());
  const SegvHandler handler;
  exit_by = how;
  redirect_to = scratch.data();
  deepest_frame = 0;
  EventRun run(state);
  uint64_t events = 0;
  const int64_t signals_before = signals.load();
  run_batched_events(
      state, run,
      [&] {
        mprotect(mapping.data(), mapping.size(), PROT_READ);  // every page read-only: each write traps
        touch_write(scratch.data(), kHeld);  // so each batch's check sees its own redirected stores
        return kPages;
      },
      [&](size_t i) {
        char* page = mapping.data() + i * page_size();
        switch (how) {
          case Exit::kLongjmp:
            // The mask needs no saving: SA_NODEFER leaves SIGSEGV unblocked in the handler.
            if (sigsetjmp(escape, 0) == 0) touch_write(page);
            break;
          case Exit::kRedirect:
            store_through_rdi(page);  // traps; the handler points it at the scratch page
            break;
          case Exit::kMprotect:
            touch_write(page);  // traps, the handler makes it writable, the store retries
            break;
        }
        ++events;
      },
      [&](size_t n) {
        if (how != Exit::kRedirect) return;
        for (size_t i = 0; i < n; ++i)
          if (touch_read(mapping.data() + i * page_size()) != kHeld) {
            run.invalidate("a protected page changed: the store was not redirected");
            break;
          }
        if (touch_read(scratch.data()) != kStored) run.invalidate("the redirected store did not reach its page");
      });
  exit_by = Exit::kMprotect;
  run.set_counter("signals_per_event",
                  events ? static_cast<double>(signals.load() - signals_before) / static_cast<double>(events) : 0);
  if (deepest_frame.load() > 0) run.set_counter("signal_stack_bytes", static_cast<double>(deepest_frame.load()));
  if (const unsigned long minimum = getauxval(AT_MINSIGSTKSZ))
    run.set_counter("kernel_min_signal_stack_bytes", static_cast<double>(minimum));
  run.note(how == Exit::kLongjmp  ? "handler leaves with siglongjmp (no sigreturn, no mprotect)"
           : how == Exit::kRedirect ? "handler points the store at a writable page and returns (no mprotect)"
                                    : "handler makes the page writable (mprotect) and returns; the store retries");
  run.finish();
}

// ref_signal_self: tgkill(SIGUSR1) to this thread, with a handler that counts it and returns
// (the system call alone: raise() adds getpid, gettid and, before glibc 2.34, two sigprocmasks).
void BM_SignalSelf(benchmark::State& state) {
  const pid_t pid = getpid(), tid = gettid();
  struct sigaction sa {}, previous {};
  sa.sa_handler = on_raised;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGUSR1, &sa, &previous);
  EventRun run(state);
  uint64_t events = 0;
  const int64_t before = raised.load();
  run_batched_events(
      state, run, [] { return kPages; },
      [&](size_t) {
        syscall(SYS_tgkill, pid, tid, SIGUSR1);
        ++events;
      },
      [](size_t) {});
  sigaction(SIGUSR1, &previous, nullptr);
  run.set_counter("signals_per_event",
                  events ? static_cast<double>(raised.load() - before) / static_cast<double>(events) : 0);
  run.note("tgkill(SIGUSR1) to this thread: delivery on the way out of it, a handler that counts and returns");
  run.finish();
}

// ref_mprotect: one page of a read-only region made writable, as segv_fault's handler does.
void BM_Mprotect(benchmark::State& state) {
  Mapping mapping = Mapping::anonymous(kPages * page_size(), Backing::kBasePages);
  for (size_t i = 0; i < kPages; ++i) touch_write(mapping.data() + i * page_size(), kHeld);
  EventRun run(state);
  int64_t failed = 0;
  run_batched_events(
      state, run,
      [&] {
        mprotect(mapping.data(), mapping.size(), PROT_READ);  // one read-only VMA again
        return kPages;
      },
      [&](size_t i) { failed += mprotect(mapping.data() + i * page_size(), page_size(), PROT_READ | PROT_WRITE) != 0; },
      [](size_t) {});
  if (failed) run.invalidate(fmt::format("{} mprotect calls failed", failed));
  run.note("mprotect(PROT_READ|PROT_WRITE) of the next page of a read-only region: a VMA split "
           "(merged with the writable neighbour from the second page on)");
  run.finish();
}

void register_rows() {
  // The fault is one the kernel could not resolve: it counts no minor or major fault for it.
  std::vector<Claim> claims = fault_claims({0, 0}, {0, 0});
  claims.push_back({"signals_per_event", {1, 1}});
  add_row({.id = "segv_fault_redirect",
           .label = "write to a write-protected page: SIGSEGV, a handler that points the store "
                    "at a writable page and returns (fault, signal delivery, sigreturn)",
           .family = "signals",
           .event = "one write that traps and is redirected",
           .claims = claims,
           .ladder_rank = 255, .anatomy = true,
           .needs = "x86-64 (the saved register it rewrites); skipped elsewhere"},
          [](benchmark::State& s) { segv_row(s, Exit::kRedirect); });
  add_row({.id = "segv_fault",
           .label = "write to a write-protected page: SIGSEGV, a handler that makes the page "
                    "writable and returns, the store retried",
           .family = "signals",
           .event = "one write that traps, is repaired and retried",
           .claims = claims,
           .ladder_rank = 260, .headline = true, .anatomy = true},
          [](benchmark::State& s) { segv_row(s, Exit::kMprotect); });
  add_row({.id = "segv_fault_longjmp",
           .label = "write to a write-protected page: SIGSEGV, a handler that leaves with siglongjmp",
           .family = "signals",
           .event = "one write that traps and is abandoned",
           .claims = claims,
           .ladder_rank = 270, .anatomy = true},
          [](benchmark::State& s) { segv_row(s, Exit::kLongjmp); });
  std::vector<Claim> one_signal = fault_claims({0, 0}, {0, 0});
  one_signal.push_back({"signals_per_event", {1, 1}});
  add_row({.id = "ref_signal_self",
           .label = "a signal the thread sends itself (tgkill), delivered and handled: delivery "
                    "and sigreturn without a fault (reference)",
           .family = "reference",
           .event = "one tgkill() to itself and its handler",
           .claims = one_signal,
           .ladder_rank = 250},
          BM_SignalSelf);
  add_row({.id = "ref_mprotect",
           .label = "mprotect of one page of a read-only region to read-write, outside any "
                    "signal: the repairing handler's work (reference)",
           .family = "reference",
           .event = "one mprotect of a 4 KiB page",
           .claims = fault_claims({0, 0}, {0, 0}),
           .ladder_rank = 252},
          BM_Mprotect);
}

const Registrar registrar(register_rows);

}  // namespace
}  // namespace pageladder
