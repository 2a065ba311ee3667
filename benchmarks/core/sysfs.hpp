// Small readers for /proc and /sys files: the kernel's settings are facts the results must carry.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace pageladder {

// Whole file, or nullopt when it cannot be opened (missing, no permission).
std::optional<std::string> read_file(const std::string& path);

// First line without the trailing newline.
std::optional<std::string> read_line(const std::string& path);

std::optional<int64_t> read_integer(const std::string& path);

// The bracketed choice of a sysfs selector such as "always [madvise] never".
std::optional<std::string> read_selected(const std::string& path);

// Value of "key: value" / "key value" in files like /proc/meminfo or /proc/vmstat.
std::optional<int64_t> read_keyed_integer(const std::string& path, const std::string& key);

}  // namespace pageladder
