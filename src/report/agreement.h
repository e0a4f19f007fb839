#pragma once
// How far metrics agree on a family's configurations (docs/method.md section 6,
// "Agreement"): fractional ranks, Kendall's tau-b between two metrics' rankings, and the
// consensus configuration (the best mean rank over the directed metrics).
#include <cstdint>
#include <optional>
#include <string>
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

// A family's configurations under several metrics: means[m][c] the mean over images
// (nullopt: undefined on every image, or not scored), better[m] the direction (+1 higher is
// better, -1 lower, 0 none: left out of rankings, the matrix and the consensus).
struct MetricTable {
  std::vector<std::string> names;
  std::vector<int> better;
  std::vector<std::vector<std::optional<double>>> means;
  size_t configs() const { return means.empty() ? 0 : means[0].size(); }
};

// Kendall's tau-b between every unordered pair of directed metrics (a before b in list order),
// over the configurations with a mean under both; n = configurations ranked.
struct PairAgreement {
  size_t a = 0, b = 0;
  std::optional<double> tau_b;
  int64_t n = 0;
};
std::vector<PairAgreement> agreement_pairs(const MetricTable& t);

// The best configuration under metric m (ties to the earlier one); nullopt when none has a
// mean or the metric has no direction.
std::optional<size_t> metric_optimum(const MetricTable& t, size_t m);

// The consensus over the directed metrics, among configurations with a mean under each of
// them; nullopt without a directed metric or such a configuration. `config` indexes t.
std::optional<Consensus> table_consensus(const MetricTable& t);

}  // namespace lrpbench
