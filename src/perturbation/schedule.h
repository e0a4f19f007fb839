#pragma once
// Schedules (docs/method.md 2.3): patches flipped per step; every schedule ends when all N patches
// are flipped, its last step taking what is left.
#include <cstdint>
#include <string>
#include <vector>

namespace lrpbench {

struct Schedule {
  std::string kind = "quadratic";  // quadratic, pow2, linear, list
  int64_t n = 0;                   // linear:n
  std::vector<int64_t> list;       // list:a,b,c
  std::string text() const;
};

Schedule parse_schedule(const std::string& text);  // throws InputError
// Patches flipped at each step for N patches (K entries summing to N).
std::vector<int64_t> step_counts(const Schedule& s, int64_t patches);

}  // namespace lrpbench
