#pragma once
// The LRP engine: relevance for a batch of images under K composites, sharing one
// forward pass and the backward work above the first node (from the output) where
// composites differ, on any graph network (docs/method.md, "Graph models").
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>
#include <vector>

#include "lrp/composite.h"
#include "model/network.h"

namespace lrpbench {

struct LayerDiagnostics {
  int index = 0;  // -1 for nodes without a layer index
  std::string name, kind, rule;
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
  std::vector<LayerDiagnostics> layers;  // per rule-carrying node, top (output) node first
};

struct Explanation {
  at::Tensor relevance;  // N x K x C x H x W
  at::Tensor logits;     // N x classes
  std::vector<int64_t> targets;
  std::vector<std::vector<Diagnostics>> diagnostics;  // [image][composite], if requested
  int64_t shared_rows = 0;  // diagnostics of the sharing: backward rows at the input layer
  // Backward rows propagated through rule-carrying nodes, summed over them: the work the
  // sharing saves (K identical composites cost what one does).
  int64_t node_rows = 0;
};

struct ExplainOptions {
  bool diagnostics = true;
};

// x: N x C x H x W, normalised, on the network's device. targets: one per image, -1 for
// the argmax. `net` must be canonical (BatchNorm folded).
Explanation explain(const Network& net, const at::Tensor& x, const std::vector<int64_t>& targets,
                    const std::vector<Composite>& composites, const ExplainOptions& opt = {});

// How many times explain() has been called in this process (the search tests count engine
// calls per generation with it).
int64_t explain_call_count();

// One composite over many images in chunks of `batch`: N x C x H x W relevance on the
// CPU; targets resolved in place (-1 becomes the argmax); diagnostics appended if given.
at::Tensor explain_in_batches(const Network& net, const at::Tensor& x,
                              std::vector<int64_t>& targets, const Composite& composite,
                              int64_t batch, std::vector<Diagnostics>* diagnostics = nullptr);

// Relevance through one linear layer under one rule (exposed for the rule tests).
// a: the layer's input (N rows), z: its plain output, r: relevance at its output (rows),
// rows: image of each row of r (undefined: rows == images). lo/hi: zbox bounds per
// channel (normalised pixel values 0 and 1). nonneg_input: the caller knows a >= 0 (from
// the graph: the output of a ReLU), which spares a reduction.
at::Tensor propagate_linear(const Layer& layer, const Rule& rule, const at::Tensor& a,
                            const at::Tensor& z, const at::Tensor& r, const at::Tensor& rows,
                            const std::vector<double>& lo, const std::vector<double>& hi,
                            bool nonneg_input = false);

// Relevance through an add node (unit weights, no bias): one tensor per input `in`. z: the
// node's output; r, rows as above. Every rule but zbox and pass.
std::vector<at::Tensor> propagate_add(const Rule& rule, const std::vector<at::Tensor>& in,
                                      const at::Tensor& z, const at::Tensor& r,
                                      const at::Tensor& rows);

// Relevance through an unfolded BatchNorm of a canonical network (x * weight + bias per
// channel): pass, zero or epsilon.
at::Tensor propagate_affine(const Layer& layer, const Rule& rule, const at::Tensor& a,
                            const at::Tensor& z, const at::Tensor& r, const at::Tensor& rows);

}  // namespace lrpbench
