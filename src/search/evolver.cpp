#include "search/evolver.h"

#include <cmath>
#include <random>

namespace lrpbench {

std::vector<std::vector<double>> uniform_box(const std::vector<double>& lower,
                                             const std::vector<double>& upper, int64_t count,
                                             uint64_t seed) {
  std::mt19937_64 rng(seed ^ 0x5bd1e9955bd1e995ull);
  std::vector<std::vector<double>> out;
  for (int64_t i = 0; i < count; ++i) {
    std::vector<double> p;
    for (size_t k = 0; k < lower.size(); ++k) {
      const double t = static_cast<double>(rng() >> 11) * 0x1.0p-53;
      p.push_back(lower[k] + t * (upper[k] - lower[k]));
    }
    out.push_back(p);
  }
  return out;
}

// pagmo orders NaN last; infinities of undefined objectives stay finite for its arithmetic.
double finite_objective(double v) {
  return std::isfinite(v) ? v : 1e300;
}

}  // namespace lrpbench
