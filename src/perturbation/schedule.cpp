#include "perturbation/schedule.h"

#include <cmath>
#include <sstream>

#include "util/error.h"

namespace lrpbench {
namespace {

int64_t positive_int(const std::string& s, const std::string& text) {
  require(!s.empty() && s.find_first_not_of("0123456789") == std::string::npos && s.size() < 10 &&
              std::stoll(s) > 0,
          "--schedule '" + text + "': expected a positive integer, got '" + s + "'");
  return std::stoll(s);
}

}  // namespace

std::string Schedule::text() const {
  if (kind == "linear") return "linear:" + std::to_string(n);
  if (kind == "list") {
    std::string out = "list:";
    for (size_t i = 0; i < list.size(); ++i) out += (i ? "," : "") + std::to_string(list[i]);
    return out;
  }
  return kind;
}

Schedule parse_schedule(const std::string& text) {
  Schedule s;
  if (text == "quadratic" || text == "pow2") {
    s.kind = text;
  } else if (text.rfind("linear:", 0) == 0) {
    s.kind = "linear";
    s.n = positive_int(text.substr(7), text);
  } else if (text.rfind("list:", 0) == 0) {
    s.kind = "list";
    std::stringstream ss(text.substr(5));
    std::string item;
    while (std::getline(ss, item, ',')) s.list.push_back(positive_int(item, text));
    require(!s.list.empty(), "--schedule '" + text + "': empty list");
  } else {
    throw InputError("--schedule: unknown schedule '" + text +
                     "' (quadratic, pow2, linear:n, list:a,b,...)");
  }
  return s;
}

std::vector<int64_t> step_counts(const Schedule& s, int64_t patches) {
  std::vector<int64_t> out;
  int64_t done = 0;
  auto add = [&](int64_t n) {
    n = std::min(n, patches - done);
    out.push_back(n);
    done += n;
  };
  for (int64_t k = 1; done < patches; ++k) {
    if (s.kind == "quadratic")
      add(2 * k - 1);
    else if (s.kind == "pow2")
      add(k == 1 ? 1 : int64_t(1) << (k - 2));
    else if (s.kind == "linear")
      add(s.n);
    else
      add(static_cast<size_t>(k - 1) < s.list.size() ? s.list[static_cast<size_t>(k - 1)]
                                                     : patches - done);
  }
  return out;
}

}  // namespace lrpbench
