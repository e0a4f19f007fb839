#include "search/sampling.h"

#include <algorithm>
#include <boost/random/sobol.hpp>
#include <cmath>
#include <string>

#include "util/error.h"

namespace lrpbench {
namespace {

uint64_t mix(uint64_t x) {  // splitmix64's finaliser
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

// A seeded stream of 64-bit words (splitmix64), the same on every platform.
class Stream {
 public:
  explicit Stream(uint64_t key) : state_(key) {}
  uint64_t next() { return mix(state_++ * 0x9e3779b97f4a7c15ull + 1); }
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }

 private:
  uint64_t state_;
};

uint64_t family_key(uint64_t seed, const std::string& strategy, const std::string& family) {
  uint64_t h = mix(seed);
  for (char c : strategy + "/" + family) h = mix(h ^ static_cast<unsigned char>(c));
  return h;
}

}  // namespace

double value_at(const ParamDecl& p, double t) {
  if (p.discrete()) {
    const std::vector<double> v = p.values();
    const auto i = static_cast<size_t>(std::floor(t * static_cast<double>(v.size())));
    return v[std::min(i, v.size() - 1)];
  }
  return p.value(p.lower() + t * (p.upper() - p.lower()));
}

std::vector<std::vector<double>> family_points(const Experiment& exp, size_t index) {
  const Family& f = exp.families.at(index);
  std::vector<std::vector<double>> out;
  const Strategy draw = exp.search.draw();
  if (draw == Strategy::Grid) {
    std::vector<std::vector<double>> values;
    for (const ParamDecl& p : f.params) values.push_back(p.values());
    for (uint64_t i = 0; i < f.grid_size(); ++i) {
      const std::vector<size_t> at = f.grid_point(i);
      std::vector<double> point;
      for (size_t k = 0; k < at.size(); ++k) point.push_back(values[k][at[k]]);
      out.push_back(point);
    }
    return out;
  }
  const size_t d = f.params.size();
  Stream stream(family_key(exp.pf.seed, strategy_name(draw), f.name));
  if (draw == Strategy::Random) {
    for (int64_t n = 0; n < exp.search.budget; ++n) {
      std::vector<double> point;
      for (const ParamDecl& p : f.params) point.push_back(value_at(p, stream.uniform()));
      out.push_back(point);
    }
    return out;
  }
  require(draw == Strategy::Sobol,
          exp.source + ": " + strategy_name(draw) + " draws its configurations as it goes");
  require(d <= 1000, exp.source + ": sobol draws at most 1000 parameters");
  boost::random::sobol sobol(static_cast<unsigned>(d));
  std::vector<uint64_t> shift;
  for (size_t k = 0; k < d; ++k) shift.push_back(stream.next());
  sobol.discard(d);  // the origin
  for (int64_t n = 0; n < exp.search.budget; ++n) {
    std::vector<double> point;
    for (size_t k = 0; k < d; ++k) {
      const uint64_t x = static_cast<uint64_t>(sobol()) ^ shift[k];
      point.push_back(value_at(f.params[k], static_cast<double>(x >> 11) * 0x1.0p-53));
    }
    out.push_back(point);
  }
  return out;
}

}  // namespace lrpbench
