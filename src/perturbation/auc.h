#pragma once
// Scores of a perturbation curve (docs/method.md section 3).
#include <optional>
#include <string>
#include <vector>

namespace lrpbench {

// Trapezoid over the step index with unit spacing.
double auc(const std::vector<double>& f);
// x = fraction of patches flipped, y = f_k / f_0; undefined (nullopt) when f_0 <= 0.
std::optional<double> auc_normalized(const std::vector<double>& f,
                                     const std::vector<double>& fraction);
// mean_k (f_0 - f_k).
double aopc(const std::vector<double>& f);

struct CurveScores {
  double auc = 0, aopc = 0;
  std::optional<double> auc_normalized;
};
CurveScores score_curve(const std::vector<double>& f, const std::vector<double>& fraction);

// Batch scores: auc and aopc of the mean curve (= mean of the per-image values);
// auc_normalized the mean over images where it is defined, with the count left out.
struct BatchScores {
  double auc = 0, aopc = 0;
  std::optional<double> auc_normalized;
  int64_t auc_normalized_undefined = 0;
};
BatchScores score_batch(const std::vector<CurveScores>& per_image);

void check_auc_kind(const std::string& kind);

// The value of a curve under an AUC kind (auc | aopc | auc_normalized): nullopt where it is
// undefined (auc_normalized with f_0 <= 0).
std::optional<double> curve_value(const CurveScores& s, const std::string& kind);

}  // namespace lrpbench
