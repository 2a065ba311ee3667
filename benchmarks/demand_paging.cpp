// demand_paging: the chapter's experiment (cited in docs/sources.md), measured.
//
// malloc(100 MiB), then write one byte per 4 KiB page, reading VmSize and VmRSS from
// /proc/self/status before the allocation, after it, every 256 pages while touching, and after
// free(), with the minor and major faults counted by getrusage. The point it makes: the virtual
// size jumps at malloc, the resident size only grows as pages are touched, one minor fault per
// page; free() gives both back (glibc serves an allocation this large with mmap). The writes go
// through a volatile pointer: the chapter's own loop, compiled at -O2, is removed by the compiler.
// Writes JSON (--out FILE, else stdout). Not a timing benchmark.
#include <sys/resource.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "core/mapping.hpp"
#include "core/sysfs.hpp"

namespace {

struct Sample {
  std::string stage;
  long pages_touched;
  long long vm_size_kib, vm_rss_kib;
  long minor, major;
};

long long status_kib(const char* key) {
  return pageladder::read_keyed_integer("/proc/self/status", key).value_or(-1);
}

Sample sample(const std::string& stage, long touched) {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return {stage, touched, status_kib("VmSize"), status_kib("VmRSS"), u.ru_minflt, u.ru_majflt};
}

}  // namespace

int main(int argc, char** argv) {
  const char* out_path = nullptr;
  for (int i = 1; i < argc; ++i) {
    if (std::strncmp(argv[i], "--out=", 6) == 0) {
      out_path = argv[i] + 6;
    } else {
      std::fprintf(stderr, "usage: %s [--out=FILE]\n", argv[0]);
      return 2;
    }
  }
  constexpr size_t kBytes = size_t{100} << 20;
  const size_t page = pageladder::page_size();
  std::vector<Sample> samples;
  samples.reserve(kBytes / page / 256 + 8);
  samples.push_back(sample("before malloc", 0));
  auto* p = static_cast<char*>(std::malloc(kBytes));
  if (!p) return 1;
  samples.push_back(sample("after malloc", 0));
  const Sample start = samples.back();
  long touched = 0;
  for (size_t off = 0; off < kBytes; off += page) {
    pageladder::touch_write(p + off, 'A');
    if (++touched % 256 == 0) samples.push_back(sample("touching", touched));
  }
  samples.push_back(sample("after touching", touched));
  const Sample end = samples.back();
  std::free(p);
  samples.push_back(sample("after free", touched));

  std::string json = fmt::format(
      "{{\n \"size_bytes\": {},\n \"page_size\": {},\n \"pages\": {},\n"
      " \"touch_minor_faults\": {},\n \"touch_major_faults\": {},\n \"samples\": [\n",
      kBytes, page, kBytes / page, end.minor - start.minor, end.major - start.major);
  for (size_t i = 0; i < samples.size(); ++i) {
    const Sample& s = samples[i];
    json += fmt::format(
        "  {{\"stage\": \"{}\", \"pages_touched\": {}, \"vm_size_kib\": {}, \"vm_rss_kib\": {}, "
        "\"minor_faults\": {}, \"major_faults\": {}}}{}\n",
        s.stage, s.pages_touched, s.vm_size_kib, s.vm_rss_kib, s.minor, s.major,
        i + 1 < samples.size() ? "," : "");
  }
  json += " ]\n}\n";
  FILE* out = out_path ? std::fopen(out_path, "w") : stdout;
  if (!out) {
    std::fprintf(stderr, "%s: cannot write %s\n", argv[0], out_path);
    return 2;
  }
  std::fputs(json.c_str(), out);
  if (out_path) std::fclose(out);
  return 0;
}
