// A benchmark's scratch file: created unnamed (O_TMPFILE, or unlinked at once where the
// filesystem lacks it), so it disappears with its last descriptor, even after SIGKILL.
// Filled with non-uniform bytes so no layer can store it as "same-filled" pages.
#pragma once

#include <cstddef>
#include <optional>
#include <string>

namespace pageladder {

// FILE_DIR-style default: persistent storage, not tmpfs.
std::string default_temp_dir();

class TempFile {
 public:
  // Never throws: a failure leaves an invalid file whose error() says why.
  static TempFile create(const std::string& directory);
  TempFile(TempFile&& other) noexcept;
  TempFile& operator=(TempFile&& other) noexcept;
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  ~TempFile();

  explicit operator bool() const { return fd_ >= 0; }
  int fd() const { return fd_; }
  const std::string& error() const { return error_; }
  const std::string& directory() const { return directory_; }
  std::string filesystem() const;  // "ext4", "tmpfs", ...

  // Writes `bytes` of the pattern in `piece`-sized write() calls; false (see error()) on
  // failure, including too little space. The piece size decides the page-cache folio size on
  // filesystems with large folios: 4 KiB pieces leave base pages.
  bool fill(size_t bytes, size_t piece = size_t{4} << 20);
  // Whether [offset, offset+bytes) still holds the pattern.
  bool unchanged(size_t offset, size_t bytes) const;
  // Reopens the same file (through /proc/self/fd) with other flags, e.g. O_DIRECT; -errno.
  int reopen(int flags) const;
  // Drops the file's clean pages from the page cache without root (fdatasync, then
  // POSIX_FADV_DONTNEED) and returns how many of its pages are still resident (mincore).
  size_t evict(size_t bytes) const;
  size_t resident_pages(size_t bytes) const;
  // Where the file lives: "ext4 on vda (rotational 0, read_ahead_kb 128)".
  std::string storage() const;
  std::optional<long long> read_ahead_kb() const;

  static char pattern_byte(size_t offset);

 private:
  TempFile() = default;
  int fd_ = -1;
  std::string directory_, error_;
};

}  // namespace pageladder
