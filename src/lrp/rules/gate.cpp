// The gate rule on a product: the gate (Layer::gate, decided when the graph is built: the
// operand a Sigmoid or Hardsigmoid produced, else the one broadcast over the other) is held
// constant, and everything flows to the other operand.
#include <ATen/ATen.h>

#include "lrp/node_gradients.h"
#include "lrp/propagation.h"

namespace lrpbench::rules {

std::vector<at::Tensor> node_gate(const NodeCall& c) {
  const at::Tensor a = c.input(0), b = c.input(1);
  const auto [ga, gb] = product_gradients(a, b, c.grad_out());
  if (c.l.gate == 0) return {at::zeros_like(a), b * gb};
  return {a * ga, at::zeros_like(b)};
}

}  // namespace lrpbench::rules
