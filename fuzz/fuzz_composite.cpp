// The composite grammar on the embedded fashion-vgg's and VGG-16's layer structure; what parses
// has a canonical form that parses to the same composite.
#include "fuzz.h"
#include "lrp/composite.h"

namespace {

lrpbench::ModelShape shape_of(const std::string& arch, const char* kinds) {
  using K = lrpbench::LayerKind;
  lrpbench::ModelShape m;
  m.arch = arch;
  int index = 0;
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
    m.layers.push_back({kind, kind == K::Flatten ? -1 : index});
    if (kind != K::Flatten) ++index;
  }
  m.num_indices = index;
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

}  // namespace

LRPBENCH_FUZZ({
  for (const lrpbench::ModelShape* m : {&fashion_vgg(), &vgg16()}) {
    try {
      const lrpbench::Composite c = lrpbench::parse_composite(input, *m);
      const std::string canonical = lrpbench::canonical_form(c, *m);
      const lrpbench::Composite again = lrpbench::parse_composite(canonical, *m);
      if (lrpbench::canonical_form(again, *m) != canonical) __builtin_trap();
    } catch (const lrpbench::InputError&) {
    }
  }
})
