#pragma once
// Scoring explanations of a batch of images under several orders (evaluate's core).
#include <ATen/core/Tensor.h>

#include <vector>

#include "perturbation/auc.h"
#include "perturbation/curves.h"

namespace lrpbench {

struct Evaluation {
  std::vector<Order> orders;
  std::vector<std::vector<PFCurve>> curves;      // [image][order]
  std::vector<std::vector<CurveScores>> scores;  // [image][order]
  std::vector<BatchScores> batch;                // [order]
  std::vector<std::vector<double>> mean_curves;  // [order]
  PFStats stats;
  PatchGrid grid;
};

// x, relevance: N x C x H x W (x normalised). targets: resolved class per image.
// seeds: the index of each image that seeds its random order and random modes.
Evaluation evaluate_explanations(const Network& net, const at::Tensor& x,
                                 const at::Tensor& relevance, const std::vector<int64_t>& targets,
                                 const std::vector<int64_t>& seeds,
                                 const std::vector<Order>& orders, const PFSettings& s);

}  // namespace lrpbench
