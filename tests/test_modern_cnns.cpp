// Modern CNNs from files (docs/method.md, "Models from files"): small random ConvNeXt,
// EfficientNet and MobileNet-V3 exported by tests/fixtures/make_fixtures.py (modern_cnn_fixtures)
// to ONNX (all three) and TorchScript (EfficientNet, MobileNet-V3) read with Python's logits, and SPEC's identity: LRP-0 without stabiliser on the linear kinds
// and `grad` on norm, act and product equal autograd's gradient x input.
#include <gtest/gtest.h>

#include "helpers.h"
#include "lrp/composite.h"
#include "lrp/engine.h"
#include "model/canonize.h"
#include "model/weights.h"
#include "util/npy.h"

namespace lrpbench {
namespace {

std::string fx(const std::string& name) { return test::fixtures_dir() + "/" + name; }

TEST(ModernCnns, FileReadingsGivePythonsLogitsAndGradientTimesInput) {
  for (const char* name : {"convnext", "efficientnet", "mobilenet_v3"})
    for (const char* kind : {"13.onnx", "14.onnx", "17.onnx", "script.pt", "trace.pt"}) {
      const std::string file = std::string(name) + "_" + kind;
      if (std::string(name) == "convnext" && std::string(kind).find(".pt") != std::string::npos)
        continue;  // (the TorchScript graph reader does not follow aten::permute yet)
      const Network net = canonize(load_model(fx(file), "", 0).net);
      const at::Tensor x = read_npy(fx(std::string(name) + "_input.npy"));
      EXPECT_LT(test::rel_l2(forward(net, x), read_npy(fx(std::string(name) + "_logits.npy"))), 1e-5)
          << file;
      const Explanation e = explain(net, x, {-1}, {parse_composite("zero(stab=none);@all:grad", net)},
                                    ExplainOptions{false});
      EXPECT_LT(test::rel_l2(e.relevance.select(1, 0), read_npy(fx(std::string(name) + "_gxi.npy"))),
                1e-5)
          << file;
      // cp-lrp explains them too (finite, and a ConvNeXt's blocks give their linear nodes gl).
      const Explanation c = explain(net, x, {-1}, {parse_composite("cp-lrp(0.25,0.05)", net)},
                                    ExplainOptions{false});
      EXPECT_TRUE(at::isfinite(c.relevance).all().item<bool>()) << file;
    }
}

// ConvNeXt's layout: channels-last tokens between each block's depthwise conv and its map again
// (a `tokens` and a `map` node), LayerNorm over channels, GELU, layer scale.
TEST(ModernCnns, ConvNextNodes) {
  const Network net = load_model(fx("convnext_14.onnx"), "", 0).net;
  int tokens = 0, maps = 0, norms = 0, gelus = 0, scales = 0;
  for (const Layer& l : net.layers) {
    tokens += l.kind == LayerKind::Tokens;
    maps += l.kind == LayerKind::Map;
    norms += l.kind == LayerKind::Norm;
    gelus += l.kind == LayerKind::Act && l.activation == Activation::GeluErf;
    scales += l.kind == LayerKind::Scale;
  }
  EXPECT_EQ(tokens, 5);  // stem norm, two blocks, the downsampling norm, the head's norm
  EXPECT_EQ(maps, 5);
  EXPECT_EQ(norms, 5);
  EXPECT_EQ(gelus, 2);
  EXPECT_EQ(scales, 2);  // each block's layer scale
}

}  // namespace
}  // namespace lrpbench
