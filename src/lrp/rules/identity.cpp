// The identity rule (AttnLRP): relevance passes a norm or act node as if the node were linear.
// norm: the divisor sqrt(var + eps) held at its forward value, the rest (mean subtraction,
// weight, bias) linear, the bias absorbing its share. act: relevance unchanged (0 where the
// input is exactly 0: x * g_y * y / x).
#include <ATen/ATen.h>

#include "lrp/node_gradients.h"
#include "lrp/propagation.h"

namespace lrpbench::rules {

std::vector<at::Tensor> node_identity(const NodeCall& c) {
  const at::Tensor x = c.input(0);
  if (c.l.kind == LayerKind::Act) return {at::where(x == 0, at::zeros_like(c.r), c.r)};
  return {x * norm_gradient(c.l, x, c.grad_out(), true)};
}

}  // namespace lrpbench::rules
