#pragma once
// Configurations of a family (docs/method.md section 4a): the grid of its discrete
// parameters, or `budget` points drawn in internal coordinates (random: a seeded uniform
// stream; sobol: Boost.Random's Sobol sequence with a digital shift drawn from the seed, the
// origin skipped). A discrete parameter draws a uniform index. No LibTorch.
#include <cstdint>
#include <vector>

#include "search/experiment.h"

namespace lrpbench {

// Parameter values (parameter order) of every configuration of family `index` of `exp`.
std::vector<std::vector<double>> family_points(const Experiment& exp, size_t index);

// The value of parameter p at internal coordinate t in [0, 1) (a discrete parameter: the value
// at index floor(t n); a continuous one: value(lower + t (upper - lower))).
double value_at(const ParamDecl& p, double t);

}  // namespace lrpbench
