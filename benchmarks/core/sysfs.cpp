#include "core/sysfs.hpp"

#include <fstream>
#include <sstream>

namespace pageladder {

std::optional<std::string> read_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::optional<std::string> read_line(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  if (!in || !std::getline(in, line)) return std::nullopt;
  return line;
}

std::optional<int64_t> read_integer(const std::string& path) {
  auto line = read_line(path);
  if (!line) return std::nullopt;
  try {
    return std::stoll(*line);
  } catch (...) {
    return std::nullopt;
  }
}

std::optional<std::string> read_selected(const std::string& path) {
  auto line = read_line(path);
  if (!line) return std::nullopt;
  const auto open = line->find('[');
  const auto close = line->find(']', open);
  if (open == std::string::npos || close == std::string::npos) return line;
  return line->substr(open + 1, close - open - 1);
}

std::optional<int64_t> read_keyed_integer(const std::string& path, const std::string& key) {
  std::ifstream in(path);
  std::string name;
  while (in >> name) {
    if (!name.empty() && name.back() == ':') name.pop_back();
    int64_t value = 0;
    if (name == key && in >> value) return value;
    in.ignore(1 << 16, '\n');
  }
  return std::nullopt;
}

}  // namespace pageladder
