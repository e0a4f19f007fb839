#pragma once
// How far metrics agree on a family's configurations (docs/method.md section 6,
// "Agreement"): fractional ranks, Kendall's tau-b between two metrics' rankings, and the
// consensus configuration (the best mean rank over the directed metrics).
#include <optional>
#include <vector>

namespace lrpbench {

// Ranks 1..n of `v` in descending order (the highest value gets rank 1), ties sharing the mean
// of their ranks.
std::vector<double> fractional_ranks(const std::vector<double>& v);

// Kendall's tau-b of two equally long score vectors (ties in either handled as tau-b does);
// undefined when fewer than two values or either side is constant.
std::optional<double> kendall_tau_b(const std::vector<double>& a, const std::vector<double>& b);

// The consensus over metrics: scores[m][c] oriented so that higher is better (a metric whose
// better direction is "lower" negated by the caller). The configuration with the best
// (smallest) mean fractional rank; ties to the earlier configuration.
struct Consensus {
  size_t config = 0;
  double mean_rank = 0;
};
Consensus consensus(const std::vector<std::vector<double>>& scores);

}  // namespace lrpbench
