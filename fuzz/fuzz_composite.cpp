// The composite grammar on the embedded fashion-vgg's and VGG-16's layer structure and on a
// small residual graph with names; what parses has a canonical form that parses to the same
// composite.
#include "fuzz.h"
#include "lrp/composite.h"

namespace {

lrpbench::ModelShape shape_of(const std::string& arch, const char* kinds) {
  using K = lrpbench::LayerKind;
  lrpbench::ModelShape m;
  m.arch = arch;
  int index = 0;
  int64_t resolution = 224;
  for (const char* k = kinds; *k; ++k) {
    K kind = K::ReLU;
    switch (*k) {
      case 'C': kind = K::Conv2d; break;
      case 'L': kind = K::Linear; break;
      case 'M': kind = K::MaxPool2d; break;
      case 'A': kind = K::AdaptiveAvgPool2d; break;
      case 'F': kind = K::Flatten; break;
      case 'D': kind = K::Dropout; break;
      default: kind = K::ReLU;
    }
    const bool rules = kind == K::Conv2d || kind == K::Linear || kind == K::AdaptiveAvgPool2d;
    if (kind == K::MaxPool2d) resolution /= 2;
    if (kind == K::Flatten) resolution = 0;
    m.layers.push_back({kind, kind == K::Flatten ? -1 : index, "n" + std::to_string(index),
                        rules ? index : -1, resolution});
    if (kind != K::Flatten) ++index;
  }
  m.num_indices = m.num_slots = index;
  return m;
}

// A residual block with an unfolded BatchNorm: names, nodes without an index.
lrpbench::ModelShape residual() {
  using K = lrpbench::LayerKind;
  lrpbench::ModelShape m;
  m.arch = "residual";
  m.by_index = false;
  m.layers = {{K::Conv2d, 0, "conv1", 0, 28},          {K::ReLU, 1, "relu", -1, 28},
              {K::Conv2d, 2, "layer1.0.conv1", 2, 28}, {K::ReLU, 3, "layer1.0.relu", -1, 28},
              {K::Conv2d, 4, "layer1.0.conv2", 4, 28}, {K::Add, -1, "layer1.0.add", 7, 28},
              {K::BatchNorm2d, 5, "layer1.0.bn", 5, 28}, {K::ReLU, 3, "layer1.0.relu_1", -1, 28},
              {K::AdaptiveAvgPool2d, 6, "avgpool", 6, 1}, {K::Flatten, -1, "flatten", -1, 0},
              {K::Linear, -1, "fc", 8, 0}};
  m.num_indices = 7;
  m.num_slots = 9;
  return m;
}

const lrpbench::ModelShape& fashion_vgg() {
  static const auto m = shape_of("fashion-vgg", "CRCRMCRCRMCRCRMFLRDL");
  return m;
}
const lrpbench::ModelShape& vgg16() {
  static const auto m = shape_of("vgg16", "CRCRMCRCRMCRCRCRMCRCRCRMCRCRCRMAFLRDLRDL");
  return m;
}
const lrpbench::ModelShape& graph() {
  static const auto m = residual();
  return m;
}

}  // namespace

LRPBENCH_FUZZ({
  for (const lrpbench::ModelShape* m : {&fashion_vgg(), &vgg16(), &graph()}) {
    try {
      const lrpbench::Composite c = lrpbench::parse_composite(input, *m);
      const std::string canonical = lrpbench::canonical_form(c, *m);
      const lrpbench::Composite again = lrpbench::parse_composite(canonical, *m);
      if (lrpbench::canonical_form(again, *m) != canonical) __builtin_trap();
    } catch (const lrpbench::InputError&) {
    }
  }
})
