#include "perturbation/auc.h"

#include "util/error.h"

namespace lrpbench {

double auc(const std::vector<double>& f) {
  double s = 0;
  for (size_t k = 0; k + 1 < f.size(); ++k) s += (f[k] + f[k + 1]) / 2;
  return s;
}

std::optional<double> auc_normalized(const std::vector<double>& f,
                                     const std::vector<double>& fraction) {
  if (f.empty() || !(f[0] > 0)) return std::nullopt;
  double s = 0;
  for (size_t k = 0; k + 1 < f.size(); ++k)
    s += (fraction[k + 1] - fraction[k]) * (f[k] + f[k + 1]) / (2 * f[0]);
  return s;
}

double aopc(const std::vector<double>& f) {
  double s = 0;
  for (double v : f) s += f[0] - v;
  return f.empty() ? 0.0 : s / static_cast<double>(f.size());
}

CurveScores score_curve(const std::vector<double>& f, const std::vector<double>& fraction) {
  return {auc(f), aopc(f), auc_normalized(f, fraction)};
}

BatchScores score_batch(const std::vector<CurveScores>& per_image) {
  BatchScores b;
  double norm = 0;
  int64_t defined = 0;
  for (const CurveScores& c : per_image) {
    b.auc += c.auc;
    b.aopc += c.aopc;
    if (c.auc_normalized) {
      norm += *c.auc_normalized;
      ++defined;
    } else {
      ++b.auc_normalized_undefined;
    }
  }
  if (!per_image.empty()) {
    b.auc /= static_cast<double>(per_image.size());
    b.aopc /= static_cast<double>(per_image.size());
  }
  if (defined > 0) b.auc_normalized = norm / static_cast<double>(defined);
  return b;
}

void check_auc_kind(const std::string& kind) {
  require(kind == "auc" || kind == "auc_normalized" || kind == "aopc",
          "auc kind: expected auc, auc_normalized or aopc, got '" + kind + "'");
}

std::optional<double> curve_value(const CurveScores& s, const std::string& kind) {
  if (kind == "aopc") return s.aopc;
  if (kind == "auc_normalized") return s.auc_normalized;
  return s.auc;
}

}  // namespace lrpbench
