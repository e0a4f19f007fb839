#pragma once
// Preset composites (docs/method.md section 1, "Presets"), in their general form for any chain of
// conv blocks (a block ends at a max-pool).
#include <string>
#include <vector>

#include "lrp/composite.h"

namespace lrpbench {

Composite tutorial_composite(const ModelShape& net, double gamma, double eps);
// decreasing-gamma(g1, g2): groups with gamma 0.5, g1, g2, 0.
Composite decreasing_gamma_composite(const ModelShape& net, double g1, double g2);
// What the reference ran (VGG-16 only).
Composite decreasing_gamma_reference_composite(const ModelShape& net, double g1, double g2);

struct PresetInfo {
  std::string name, args, description;
};
std::vector<PresetInfo> preset_infos();

}  // namespace lrpbench
