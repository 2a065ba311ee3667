#include "core/cpus.hpp"

#include <pthread.h>

namespace pageladder {

std::vector<int> usable_cpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  std::vector<int> cpus;
  if (sched_getaffinity(0, sizeof set, &set) != 0) return cpus;
  for (int c = 0; c < CPU_SETSIZE; ++c)
    if (CPU_ISSET(c, &set)) cpus.push_back(c);
  return cpus;
}

bool pin_this_thread(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  return pthread_setaffinity_np(pthread_self(), sizeof set, &set) == 0;
}

PinnedFor::PinnedFor(int cpu) {
  pthread_getaffinity_np(pthread_self(), sizeof before_, &before_);
  ok_ = pin_this_thread(cpu);
}

PinnedFor::~PinnedFor() { pthread_setaffinity_np(pthread_self(), sizeof before_, &before_); }

}  // namespace pageladder
