#include "core/page_region.hpp"

#include <sys/mman.h>

#include <fmt/format.h>

#include "core/backing.hpp"
#include "core/event_run.hpp"
#include "core/pagemap.hpp"

namespace pageladder {

BasePageRegion::BasePageRegion(size_t page_tables)
    : tables_(page_tables),
      span_(thp_size() ? thp_size() : size_t{2} << 20),
      pages_per_table_(span_ / page_size()),
      mapping_(Mapping::anonymous(page_tables * span_, Backing::kBasePages, span_)) {
  for (size_t t = 0; t < tables_; ++t) touch_write(mapping_.data() + t * span_);
}

void BasePageRegion::populate(char value) const {
  for (size_t i = 0; i < events(); ++i) touch_write(page(i), value);
}

void BasePageRegion::discard_event_pages(int advice) const {
  for (size_t t = 0; t < tables_; ++t) mapping_.advise(t * span_ + page_size(), span_ - page_size(), advice);
}

void BasePageRegion::verify_faulted_in(EventRun& run, size_t n, const Pagemap& pagemap) const {
  size_t present = 0;
  for (size_t i = 0; i < n; ++i) present += pagemap.at(page(i)).value_or(PageState{}).present;
  if (present != n)
    run.invalidate(fmt::format("{} of {} touched pages present afterwards", present, n));
  const auto thp_kb = anon_huge_kb(mapping_.data());
  if (!thp_kb) {
    run.cannot_verify("thp_backed_fraction", "smaps shows no AnonHugePages here");
    return;
  }
  run.add_evidence("thp_backed_fraction", static_cast<double>(*thp_kb),
                   static_cast<double>(mapping_.size() / 1024));
  if (*thp_kb != 0) run.invalidate(fmt::format("{} kB of the 4 KiB region was THP-backed", *thp_kb));
}

}  // namespace pageladder
