#include "report/agreement.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <stdexcept>

namespace lrpbench {

std::vector<double> fractional_ranks(const std::vector<double>& v) {
  std::vector<size_t> order(v.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return v[a] > v[b]; });
  std::vector<double> rank(v.size());
  for (size_t i = 0; i < order.size();) {
    size_t j = i;
    while (j + 1 < order.size() && v[order[j + 1]] == v[order[i]]) ++j;
    const double mean = (static_cast<double>(i + 1) + static_cast<double>(j + 1)) / 2;
    for (size_t k = i; k <= j; ++k) rank[order[k]] = mean;
    i = j + 1;
  }
  return rank;
}

std::optional<double> kendall_tau_b(const std::vector<double>& a, const std::vector<double>& b) {
  if (a.size() != b.size()) throw std::logic_error("kendall_tau_b: lengths differ");
  const size_t n = a.size();
  if (n < 2) return std::nullopt;
  // O(n^2) pairs: families hold at most a few thousand configurations scored on every image.
  double concordant = 0, discordant = 0, ties_a = 0, ties_b = 0;
  for (size_t i = 0; i < n; ++i)
    for (size_t j = i + 1; j < n; ++j) {
      const double da = a[i] - a[j], db = b[i] - b[j];
      if (da == 0) ties_a += 1;
      if (db == 0) ties_b += 1;
      if (da == 0 || db == 0) continue;
      if ((da > 0) == (db > 0))
        concordant += 1;
      else
        discordant += 1;
    }
  const double pairs = static_cast<double>(n) * static_cast<double>(n - 1) / 2;
  const double denom = std::sqrt((pairs - ties_a) * (pairs - ties_b));
  if (!(denom > 0)) return std::nullopt;
  return (concordant - discordant) / denom;
}

Consensus consensus(const std::vector<std::vector<double>>& scores) {
  if (scores.empty() || scores[0].empty()) throw std::logic_error("consensus: nothing ranked");
  std::vector<double> mean(scores[0].size(), 0.0);
  for (const auto& s : scores) {
    const std::vector<double> r = fractional_ranks(s);
    for (size_t c = 0; c < r.size(); ++c) mean[c] += r[c] / static_cast<double>(scores.size());
  }
  Consensus out;
  out.mean_rank = mean[0];
  for (size_t c = 1; c < mean.size(); ++c)
    if (mean[c] < out.mean_rank) {
      out.config = c;
      out.mean_rank = mean[c];
    }
  return out;
}

std::vector<PairAgreement> agreement_pairs(const MetricTable& t) {
  std::vector<PairAgreement> out;
  for (size_t a = 0; a < t.names.size(); ++a)
    for (size_t b = a + 1; b < t.names.size(); ++b) {
      if (t.better[a] == 0 || t.better[b] == 0) continue;
      std::vector<double> va, vb;
      for (size_t c = 0; c < t.configs(); ++c)
        if (t.means[a][c] && t.means[b][c]) {
          va.push_back(t.better[a] * *t.means[a][c]);
          vb.push_back(t.better[b] * *t.means[b][c]);
        }
      out.push_back({a, b, kendall_tau_b(va, vb), static_cast<int64_t>(va.size())});
    }
  return out;
}

std::optional<size_t> metric_optimum(const MetricTable& t, size_t m) {
  if (t.better[m] == 0) return std::nullopt;
  std::optional<size_t> best;
  for (size_t c = 0; c < t.configs(); ++c)
    if (t.means[m][c] &&
        (!best || t.better[m] * *t.means[m][c] > t.better[m] * *t.means[m][*best]))
      best = c;
  return best;
}

std::optional<Consensus> table_consensus(const MetricTable& t) {
  std::vector<size_t> directed, complete;
  for (size_t m = 0; m < t.names.size(); ++m)
    if (t.better[m] != 0) directed.push_back(m);
  for (size_t c = 0; c < t.configs(); ++c)
    if (std::all_of(directed.begin(), directed.end(), [&](size_t m) { return t.means[m][c]; }))
      complete.push_back(c);
  if (directed.empty() || complete.empty()) return std::nullopt;
  std::vector<std::vector<double>> scores;
  for (size_t m : directed) {
    scores.emplace_back();
    for (size_t c : complete) scores.back().push_back(t.better[m] * *t.means[m][c]);
  }
  Consensus out = consensus(scores);
  out.config = complete[out.config];
  return out;
}

}  // namespace lrpbench
