#include "core/child_process.hpp"

#include <signal.h>
#include <sys/prctl.h>
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <system_error>

namespace pageladder {

ChildProcess::ChildProcess(const Body& body) {
  int down[2], up[2];
  if (pipe2(down, O_CLOEXEC) != 0) throw std::system_error(errno, std::generic_category(), "pipe");
  if (pipe2(up, O_CLOEXEC) != 0) {
    close(down[0]);
    close(down[1]);
    throw std::system_error(errno, std::generic_category(), "pipe");
  }
  const pid_t parent = getpid();
  pid_ = fork();
  if (pid_ < 0) {
    const int err = errno;
    for (int fd : {down[0], down[1], up[0], up[1]}) close(fd);
    throw std::system_error(err, std::generic_category(), "fork");
  }
  if (pid_ == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(127);  // the parent died before prctl took effect
    close(down[1]);
    close(up[0]);
    _exit(body(up[1], down[0]));
  }
  close(down[0]);
  close(up[1]);
  to_child_ = down[1];
  from_child_ = up[0];
  maybe_inject_crash("after_fork");
}

ChildProcess::~ChildProcess() {
  if (to_child_ >= 0) close(to_child_);
  if (from_child_ >= 0) close(from_child_);
  if (pid_ > 0 && !reaped_) {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
}

bool ChildProcess::signal_child() {
  const char byte = 1;
  return ::write(to_child_, &byte, 1) == 1;
}

bool ChildProcess::read(void* buffer, size_t bytes) {
  auto* p = static_cast<char*>(buffer);
  while (bytes > 0) {
    const ssize_t n = ::read(from_child_, p, bytes);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    p += n;
    bytes -= static_cast<size_t>(n);
  }
  return true;
}

int ChildProcess::wait() {
  if (reaped_) return -1;
  if (to_child_ >= 0) {
    close(to_child_);  // EOF releases a child blocked in wait_for_parent()
    to_child_ = -1;
  }
  int status = 0;
  while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  reaped_ = true;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
}

void maybe_inject_crash(const char* point) {
  const char* wanted = std::getenv("PAGELADDER_INJECT_CRASH");
  if (wanted && std::string(wanted) == point) std::abort();
}

void wait_for_parent(int from_parent) {
  char byte;
  while (::read(from_parent, &byte, 1) < 0 && errno == EINTR) {
  }
}

bool write_all(int fd, const void* buffer, size_t bytes) {
  const auto* p = static_cast<const char*>(buffer);
  while (bytes > 0) {
    const ssize_t n = ::write(fd, p, bytes);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    p += n;
    bytes -= static_cast<size_t>(n);
  }
  return true;
}

}  // namespace pageladder
