#pragma once
// NSGA-II over a family's continuous parameters (docs/method.md section 4a), on pagmo2's
// `nsga2` (crossover 0.95, eta_c 10, mutation 0.01, eta_m 50), one generation per step, with
// a batch evaluator: a copy of the algorithm evolves against a batch evaluator that records
// the offspring (same state, same draws), the caller evaluates them together, then the
// algorithm itself evolves with a batch evaluator answering from those values. Two or more
// objectives, all minimised. No LibTorch.
#include "search/evolver.h"

namespace lrpbench {

class Nsga2Driver : public Evolver {
 public:
  // lower / upper: the box; population a multiple of 4, at least 8; objectives >= 2.
  Nsga2Driver(std::vector<double> lower, std::vector<double> upper, int64_t population,
              size_t objectives, uint64_t seed);
  ~Nsga2Driver() override;
  Nsga2Driver(Nsga2Driver&&) noexcept;
  Nsga2Driver& operator=(Nsga2Driver&&) noexcept;

  std::vector<std::vector<double>> initial() const override;
  std::vector<std::vector<double>> candidates() const override;
  void tell(const std::vector<std::vector<double>>& points,
            const std::vector<std::vector<double>>& values) override;
  std::vector<std::vector<double>> population() const override;
  std::vector<size_t> front() const override;  // rank 0 of the population

 private:
  struct State;
  std::unique_ptr<State> s_;
};

}  // namespace lrpbench
