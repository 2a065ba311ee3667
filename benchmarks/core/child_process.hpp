// A forked child that cannot outlive the benchmark.
//
// The child runs `body(to_parent, from_parent)` and exits with its return value. It dies with
// the parent (PR_SET_PDEATHSIG), so a crash, an exception or Ctrl-C of the benchmark leaves no
// process behind; the destructor kills and reaps a child that was not waited for.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <functional>
#include <string>

namespace pageladder {

class ChildProcess {
 public:
  using Body = std::function<int(int to_parent, int from_parent)>;
  explicit ChildProcess(const Body& body);
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  pid_t pid() const { return pid_; }
  // Sends one byte to the child (e.g. "release"); false if the child is gone.
  bool signal_child();
  // Reads exactly `bytes` from the child; false on EOF or error.
  bool read(void* buffer, size_t bytes);
  // Waits for the child to exit; returns its exit status, or -signal if killed.
  int wait();

 private:
  pid_t pid_ = -1;
  int to_child_ = -1, from_child_ = -1;
  bool reaped_ = false;
};

// Aborts the process when PAGELADDER_INJECT_CRASH names this point: the tests use it to prove
// that nothing (child process, file, cgroup, swap) outlives a crash at that point.
void maybe_inject_crash(const char* point);

// Blocks until the parent writes a byte or goes away; for use inside a child body.
void wait_for_parent(int from_parent);
// Writes all of `bytes`; for use inside a child body.
bool write_all(int fd, const void* buffer, size_t bytes);

}  // namespace pageladder
