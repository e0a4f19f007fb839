#pragma once
// The evolutionary strategies (docs/method.md section 4a) behind one interface, so that the
// search runs CMA-ES and NSGA-II with the same loop: generation 0 is `initial()`, each later
// generation is `candidates()`, and the caller evaluates a generation's points as one batch
// before it `tell()`s their values. Coordinates are internal (ParamDecl::lower .. upper); every
// objective is minimised (the caller negates those where higher is better). No LibTorch.
#include <cstdint>
#include <memory>
#include <vector>

namespace lrpbench {

class Evolver {
 public:
  virtual ~Evolver() = default;
  // Generation 0: the population drawn uniformly in the box (seeded).
  virtual std::vector<std::vector<double>> initial() const = 0;
  // The points of the next generation (after tell() of the previous one). Asking twice gives
  // the same points: the state changes only in tell().
  virtual std::vector<std::vector<double>> candidates() const = 0;
  // The objective values (one vector per point, every objective) of the points last returned.
  virtual void tell(const std::vector<std::vector<double>>& points,
                    const std::vector<std::vector<double>>& values) = 0;
  // The current population (after the last tell) and the indices of its non-dominated points
  // (CMA-ES: its best point).
  virtual std::vector<std::vector<double>> population() const = 0;
  virtual std::vector<size_t> front() const = 0;
};

// `count` points drawn uniformly in [lower, upper) (mt19937_64 seeded by `seed`).
std::vector<std::vector<double>> uniform_box(const std::vector<double>& lower,
                                             const std::vector<double>& upper, int64_t count,
                                             uint64_t seed);

// Objective values for an optimiser that needs finite numbers: an undefined (NaN) or infinite
// value becomes 1e300 (worst).
double finite_objective(double v);

}  // namespace lrpbench
