#pragma once
// Preset composites (docs/method.md, "Presets"): the thesis's in their general form over conv
// blocks (runs of convs with one output resolution), and zennit's by layer type.
#include <string>
#include <vector>

#include "lrp/composite.h"

namespace lrpbench {

Composite tutorial_composite(const ModelShape& net, double gamma, double eps);
// decreasing-gamma(g1, g2): groups with gamma 0.5, g1, g2, 0.
Composite decreasing_gamma_composite(const ModelShape& net, double g1, double g2);
// zennit's composites by layer type (docs/method.md, "Presets by type").
Composite epsilon_gamma_box_composite(const ModelShape& net, double gamma, double eps);
// epsilon-plus, or with `flat` epsilon-plus-flat.
Composite epsilon_plus_composite(const ModelShape& net, double eps, bool flat);
Composite epsilon_alpha2_beta1_composite(const ModelShape& net, double eps);
// What the reference ran (VGG-16 only).
Composite decreasing_gamma_reference_composite(const ModelShape& net, double g1, double g2);

// cp-lrp(gc, gl) and attnlrp(gc, gl) (docs/method.md, "Transformers"): gamma(gc) on convs,
// gamma(gl) on dense layers, zero(stab=none) on attention projections, adds and average pools,
// cp / attnlrp on attention, identity on norm and act, gate / uniform on products. Kinds the
// model lacks are skipped.
Composite transformer_composite(const ModelShape& net, bool attnlrp, double gc, double gl);

struct PresetInfo {
  std::string name, args, description;
};
std::vector<PresetInfo> preset_infos();

}  // namespace lrpbench
