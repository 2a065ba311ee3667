#include "core/cow_partner.hpp"

#include "core/backing.hpp"
#include "core/event_run.hpp"
#include "core/mapping.hpp"

namespace pageladder {

std::unique_ptr<ChildProcess> fork_holder(const std::vector<char*>& pages) {
  return std::make_unique<ChildProcess>([&pages](int, int from_parent) {
    wait_for_parent(from_parent);
    for (const char* p : pages)
      if (touch_read(p) != kCowOriginal) return 1;
    return 0;
  });
}

void check_holder_unchanged(EventRun& run, ChildProcess& holder) {
  holder.signal_child();
  if (holder.wait() != 0)
    run.invalidate("the other process saw the writer's stores: the pages were not copied");
}

void check_copies(EventRun& run, int64_t private_before_kb, const void* vma, size_t n, ChildProcess& holder) {
  check_one_copy_per_write(run, private_dirty_kb(vma) - private_before_kb, n, "private memory",
                           ": not one copied page per write");
  check_holder_unchanged(run, holder);
}

}  // namespace pageladder
