// CP-LRP's attention rule (Ali et al. 2022): the attention weights A held constant, so o = A v
// is linear in v and every bit of relevance flows into v (q and k receive none).
#include <ATen/ATen.h>

#include "lrp/node_gradients.h"
#include "lrp/propagation.h"

namespace lrpbench::rules {

std::vector<at::Tensor> node_cp(const NodeCall& c) {
  const at::Tensor qkv = c.input(0);
  return {qkv * attention_gradient(c.l, qkv, c.grad_out(), 1.0, 0.0, 0.0)};
}

}  // namespace lrpbench::rules
