#include "util/error.h"

namespace lrpbench {

void require(bool condition, const std::string& message) {
  if (!condition) throw InputError(message);
}

std::string first_line(const std::string& text) {
  const auto pos = text.find('\n');
  return pos == std::string::npos ? text : text.substr(0, pos);
}

}  // namespace lrpbench
