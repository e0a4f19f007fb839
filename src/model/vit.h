#pragma once
// Vision transformers in torchvision's VisionTransformer layout and state-dict keys
// (docs/method.md, "Transformers"): the built-ins vit_b_16, vit_b_32, vit_l_16, vit_l_32 and
// the embedded fashion-vit.
#include <cstdint>
#include <string>
#include <vector>

#include "model/network.h"

namespace lrpbench {

struct ViTConfig {
  std::string arch;
  int64_t image = 224, patch = 16, channels = 3;
  int64_t layers = 12, heads = 12, hidden = 768, mlp = 3072;
  int64_t classes = 1000;
  double eps = 1e-6;  // LayerNorm
};

// The configurations of the built-in ViTs, by name.
const std::vector<ViTConfig>& vit_configs();
// The graph of torchvision's VisionTransformer: conv_proj, tokens, class_token,
// encoder.pos_embedding, per layer ln_1, self_attention.in_proj, self_attention,
// self_attention.out_proj, add_1, ln_2, mlp.0, mlp.1 (GELU), mlp.3, add_2; encoder.ln, the class
// token's output (select) and heads.head. Parameters undefined but for placeholders of the
// constant tensors' shapes.
Network build_vit(const ViTConfig& c);

}  // namespace lrpbench
