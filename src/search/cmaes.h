#pragma once
// CMA-ES over a family's continuous parameters (docs/method.md section 4a), on pagmo2's
// `cmaes` (memory on, bounds forced, no early stop), one generation per step, so that a
// generation's candidates are evaluated as one batch: pagmo 2.18's cmaes evaluates candidates
// one by one inside `evolve`, so the candidates are first obtained from a copy of the
// algorithm run against a problem that records them (same state, same draws), evaluated
// together by the caller, then the algorithm itself evolves against a problem answering from
// those values. One objective. No LibTorch.
#include "search/evolver.h"

namespace lrpbench {

class CmaesDriver : public Evolver {
 public:
  // lower / upper: the box; population >= 5; sigma0 as a fraction of each range.
  CmaesDriver(std::vector<double> lower, std::vector<double> upper, int64_t population,
              uint64_t seed, double sigma0 = 0.3);
  ~CmaesDriver() override;
  CmaesDriver(CmaesDriver&&) noexcept;
  CmaesDriver& operator=(CmaesDriver&&) noexcept;

  std::vector<std::vector<double>> initial() const override;
  std::vector<std::vector<double>> candidates() const override;
  // values[i] = {objective of points[i]}.
  void tell(const std::vector<std::vector<double>>& points,
            const std::vector<std::vector<double>>& values) override;
  std::vector<std::vector<double>> population() const override;
  std::vector<size_t> front() const override;  // the best point of the population

 private:
  struct State;
  std::unique_ptr<State> s_;
};

// The default population of CMA-ES for d parameters: max(5, 4 + floor(3 ln d)).
int64_t cmaes_population(size_t d);

}  // namespace lrpbench
