#pragma once
// The LRP engine: relevance for a batch of images under K composites, sharing one
// forward pass and the backward work above the highest layer where composites differ.
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <vector>

#include "lrp/composite.h"
#include "model/network.h"

namespace lrpbench {

struct LayerDiagnostics {
  int index = 0;
  double relevance_sum = 0.0;       // at the layer's input
  double conservation_error = 0.0;  // |input sum - output sum| / |logit|
};

struct Diagnostics {
  int64_t target = 0;
  double logit = 0.0;
  double relevance_sum = 0.0;
  double conservation_error = 0.0;  // |relevance_sum - logit| / |logit|
  double relevance_min = 0.0, relevance_max = 0.0;
  int64_t nonfinite = 0;
  bool negative_logit = false;
  std::vector<LayerDiagnostics> layers;  // top (output) layer first
};

struct Explanation {
  at::Tensor relevance;  // N x K x C x H x W
  at::Tensor logits;     // N x classes
  std::vector<int64_t> targets;
  std::vector<std::vector<Diagnostics>> diagnostics;  // [image][composite], if requested
  int64_t shared_rows = 0;  // diagnostics of the sharing: backward rows at the input layer
};

struct ExplainOptions {
  bool diagnostics = true;
};

// x: N x C x H x W, normalised, on the network's device. targets: one per image, -1 for
// the argmax. `net` must be canonical (BatchNorm folded).
Explanation explain(const Network& net, const at::Tensor& x, const std::vector<int64_t>& targets,
                    const std::vector<Composite>& composites, const ExplainOptions& opt = {});

// One composite over many images in chunks of `batch`: N x C x H x W relevance on the
// CPU; targets resolved in place (-1 becomes the argmax); diagnostics appended if given.
at::Tensor explain_in_batches(const Network& net, const at::Tensor& x,
                              std::vector<int64_t>& targets, const Composite& composite,
                              int64_t batch, std::vector<Diagnostics>* diagnostics = nullptr);

// Relevance through one linear layer under one rule (exposed for the rule tests).
// a: the layer's input (N rows), z: its plain output, r: relevance at its output (rows),
// rows: image of each row of r (undefined: rows == images). lo/hi: zbox bounds per
// channel (normalised pixel values 0 and 1).
at::Tensor propagate_linear(const Layer& layer, const Rule& rule, const at::Tensor& a,
                            const at::Tensor& z, const at::Tensor& r, const at::Tensor& rows,
                            const std::vector<double>& lo, const std::vector<double>& hi);

}  // namespace lrpbench
