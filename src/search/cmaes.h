#pragma once
// CMA-ES over a family's continuous parameters (docs/method.md section 4a), on pagmo2's
// `cmaes` (memory on, bounds forced, no early stop), one generation per step, so that a
// generation's candidates are evaluated as one batch: pagmo 2.18's cmaes evaluates candidates
// one by one inside `evolve`, so the candidates are first obtained from a copy of the
// algorithm run against a problem that records them (same state, same draws), evaluated
// together by the caller, then the algorithm itself evolves against a problem answering from
// those values. Minimises; coordinates are internal (ParamDecl::lower .. upper). No LibTorch.
#include <cstdint>
#include <memory>
#include <vector>

namespace lrpbench {

class CmaesDriver {
 public:
  // lower / upper: the box; population >= 5; sigma0 as a fraction of each range.
  CmaesDriver(std::vector<double> lower, std::vector<double> upper, int64_t population,
              uint64_t seed, double sigma0 = 0.3);
  ~CmaesDriver();
  CmaesDriver(CmaesDriver&&) noexcept;
  CmaesDriver& operator=(CmaesDriver&&) noexcept;

  // Generation 0: `population` points drawn uniformly in the box (seeded).
  std::vector<std::vector<double>> initial() const;
  // The candidates of the next generation (after tell() of the previous one).
  std::vector<std::vector<double>> candidates() const;
  // The objective values of the points last returned (initial() first, then candidates()).
  void tell(const std::vector<std::vector<double>>& points, const std::vector<double>& values);

 private:
  struct State;
  std::unique_ptr<State> s_;
};

// The default population of CMA-ES for d parameters: max(5, 4 + floor(3 ln d)).
int64_t cmaes_population(size_t d);

}  // namespace lrpbench
