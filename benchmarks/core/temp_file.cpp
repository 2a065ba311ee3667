#include "core/temp_file.hpp"

#include <fcntl.h>
#include <linux/magic.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "core/mapping.hpp"
#include "core/sysfs.hpp"

namespace pageladder {

std::string default_temp_dir() { return "/var/tmp"; }

char TempFile::pattern_byte(size_t offset) {
  // A cheap hash of the offset: every page differs from every other and none is uniform.
  uint64_t x = offset * 0x9E3779B97F4A7C15ull;
  x ^= x >> 29;
  return static_cast<char>(x | 1);
}

TempFile TempFile::create(const std::string& directory) {
  TempFile f;
  f.directory_ = directory;
  f.fd_ = open(directory.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
  if (f.fd_ < 0 && (errno == EOPNOTSUPP || errno == EISDIR || errno == EINVAL)) {
    std::string path = directory + "/pageladder-XXXXXX";
    f.fd_ = mkostemp(path.data(), O_CLOEXEC);
    if (f.fd_ >= 0) unlink(path.c_str());
  }
  if (f.fd_ < 0)
    f.error_ = fmt::format("cannot create a file in {}: {}", directory, std::strerror(errno));
  return f;
}

TempFile::TempFile(TempFile&& other) noexcept { *this = std::move(other); }

TempFile& TempFile::operator=(TempFile&& other) noexcept {
  std::swap(fd_, other.fd_);
  std::swap(directory_, other.directory_);
  std::swap(error_, other.error_);
  return *this;
}

TempFile::~TempFile() {
  if (fd_ >= 0) close(fd_);
}

std::string TempFile::filesystem() const {
  struct statfs st {};
  if (fstatfs(fd_, &st) != 0) return "unknown";
  switch (st.f_type) {
    case EXT4_SUPER_MAGIC: return "ext4";
    case TMPFS_MAGIC: return "tmpfs";
    case XFS_SUPER_MAGIC: return "xfs";
    case BTRFS_SUPER_MAGIC: return "btrfs";
    case OVERLAYFS_SUPER_MAGIC: return "overlayfs";
    default: return fmt::format("fs-0x{:x}", static_cast<unsigned long>(st.f_type));
  }
}

bool TempFile::fill(size_t bytes, size_t piece) {
  struct statvfs vfs {};
  if (fstatvfs(fd_, &vfs) == 0 && vfs.f_bavail * vfs.f_frsize < bytes + (size_t{64} << 20)) {
    error_ = fmt::format("{} has too little free space for a {} MiB file", directory_, bytes >> 20);
    return false;
  }
  std::vector<char> buffer(piece);
  for (size_t done = 0; done < bytes;) {
    const size_t n = std::min(piece, bytes - done);
    for (size_t i = 0; i < n; ++i) buffer[i] = pattern_byte(done + i);
    const ssize_t w = pwrite(fd_, buffer.data(), n, static_cast<off_t>(done));
    if (w <= 0) {
      error_ = fmt::format("cannot write to a file in {}: {}", directory_,
                           w < 0 ? std::strerror(errno) : "short write");
      return false;
    }
    done += static_cast<size_t>(w);
  }
  return true;
}

bool TempFile::unchanged(size_t offset, size_t bytes) const {
  std::vector<char> buffer(bytes);
  if (pread(fd_, buffer.data(), bytes, static_cast<off_t>(offset)) != static_cast<ssize_t>(bytes))
    return false;
  for (size_t i = 0; i < bytes; ++i)
    if (buffer[i] != pattern_byte(offset + i)) return false;
  return true;
}

size_t TempFile::evict(size_t bytes) const {
  fdatasync(fd_);
  posix_fadvise(fd_, 0, static_cast<off_t>(bytes), POSIX_FADV_DONTNEED);
  return resident_pages(bytes);
}

size_t TempFile::resident_pages(size_t bytes) const {
  void* map = mmap(nullptr, bytes, PROT_READ, MAP_SHARED, fd_, 0);
  if (map == MAP_FAILED) return bytes / page_size();
  std::vector<unsigned char> vec(bytes / page_size() + 1);
  size_t resident = 0;
  if (mincore(map, bytes, vec.data()) == 0)
    for (size_t i = 0; i < bytes / page_size(); ++i) resident += vec[i] & 1;
  munmap(map, bytes);
  return resident;
}

namespace {

std::string sysfs_dev_dir(int fd) {
  struct stat st {};
  if (fstat(fd, &st) != 0) return "";
  return fmt::format("/sys/dev/block/{}:{}", major(st.st_dev), minor(st.st_dev));
}

}  // namespace

std::optional<long long> TempFile::read_ahead_kb() const {
  struct stat st {};
  if (fstat(fd_, &st) != 0) return std::nullopt;
  auto v = read_integer(fmt::format("/sys/class/bdi/{}:{}/read_ahead_kb", major(st.st_dev),
                                    minor(st.st_dev)));
  if (!v) return std::nullopt;
  return *v;
}

std::string TempFile::storage() const {
  const std::string dir = sysfs_dev_dir(fd_);
  std::string device = "no block device";
  if (const auto uevent = read_file(dir + "/uevent")) {
    const auto pos = uevent->find("DEVNAME=");
    if (pos != std::string::npos)
      device = uevent->substr(pos + 8, uevent->find('\n', pos) - pos - 8);
  }
  // A partition's queue settings live on its parent disk.
  auto rotational = read_integer(dir + "/queue/rotational");
  if (!rotational) rotational = read_integer(dir + "/../queue/rotational");
  const auto ra = read_ahead_kb();
  return fmt::format("{} on {} (rotational {}, read_ahead_kb {})", filesystem(), device,
                     rotational ? std::to_string(*rotational) : "n/a",
                     ra ? std::to_string(*ra) : "n/a");
}

int TempFile::reopen(int flags) const {
  const std::string self = fmt::format("/proc/self/fd/{}", fd_);
  const int fd = open(self.c_str(), flags | O_CLOEXEC);
  return fd < 0 ? -errno : fd;
}

}  // namespace pageladder
