#include "lrp/presets.h"

#include <algorithm>
#include <cmath>

#include "util/error.h"

namespace lrpbench {
namespace {

Rule make_rule(RuleKind k, double p1 = 0.0, double p2 = 0.0, Stabilizer s = Stabilizer::Sign) {
  Rule r;
  r.kind = k;
  r.p1 = p1;
  r.p2 = p2;
  r.stab = s;
  return r;
}

Rule gamma_rule(double g) {
  return make_rule(RuleKind::Gamma, g).normalized();
}

struct ConvLayout {
  std::vector<int> convs;       // indices of the convs, in order
  std::vector<int> conv_block;  // block number (0-based) of each conv
  int blocks = 0;               // number of conv blocks
};

ConvLayout conv_layout(const ModelShape& net) {
  ConvLayout c;
  int block = 0;
  bool open = false;  // a conv seen since the last max-pool
  for (const LayerInfo& l : net.layers) {
    if (l.kind == LayerKind::Conv2d) {
      c.convs.push_back(l.index);
      c.conv_block.push_back(block);
      open = true;
    } else if (l.kind == LayerKind::MaxPool2d && open) {
      ++block;
      open = false;
    }
  }
  c.blocks = block + (open ? 1 : 0);
  require(!c.convs.empty(), "model " + net.arch + " has no conv layer for a preset composite");
  return c;
}

// Gives each linear layer the rule of the most recent conv (`conv_rule`), the first conv
// zbox, and every linear layer after the last conv LRP-0.
Composite by_conv(const ModelShape& net, const ConvLayout& c, const std::vector<Rule>& conv_rule) {
  Composite out = uniform_composite(net, make_rule(RuleKind::Zero));
  const int last_conv = c.convs.back();
  int current = -1;
  for (const LayerInfo& l : net.layers) {
    if (l.kind == LayerKind::Conv2d) ++current;
    if (!is_linear(l.kind) || l.index > last_conv || current < 0) continue;
    out.rules[static_cast<size_t>(l.index)] = conv_rule[static_cast<size_t>(current)];
  }
  out.rules[static_cast<size_t>(c.convs.front())] = make_rule(RuleKind::ZBox);
  return out;
}

}  // namespace

Composite tutorial_composite(const ModelShape& net, double gamma, double eps) {
  const ConvLayout c = conv_layout(net);
  const int gamma_blocks = static_cast<int>(std::lround(3.0 * c.blocks / 5.0));
  std::vector<Rule> rules;
  for (int b : c.conv_block)
    rules.push_back(b < gamma_blocks ? gamma_rule(gamma)
                                     : make_rule(RuleKind::Epsilon, eps).normalized());
  return by_conv(net, c, rules);
}

Composite decreasing_gamma_composite(const ModelShape& net, double g1, double g2) {
  const ConvLayout c = conv_layout(net);
  const int n = static_cast<int>(c.convs.size()) - 1;  // convs after the first
  const int weights[4] = {4, 3, 3, 2};
  int sizes[4];
  double rem[4];
  int assigned = 0;
  for (int g = 0; g < 4; ++g) {
    const double q = n * weights[g] / 12.0;
    sizes[g] = static_cast<int>(std::floor(q));
    rem[g] = q - sizes[g];
    assigned += sizes[g];
  }
  for (; assigned < n; ++assigned) {  // largest remainder, ties to the earlier group
    int best = 0;
    for (int g = 1; g < 4; ++g)
      if (rem[g] > rem[best] + 1e-12) best = g;
    ++sizes[best];
    rem[best] = -1.0;
  }
  const double gammas[4] = {0.5, g1, g2, 0.0};
  std::vector<Rule> rules{make_rule(RuleKind::ZBox)};
  for (int g = 0; g < 4; ++g)
    for (int k = 0; k < sizes[g]; ++k) rules.push_back(gamma_rule(gammas[g]));
  return by_conv(net, c, rules);
}

Composite decreasing_gamma_reference_composite(const ModelShape& net, double g1, double g2) {
  require(net.arch == "vgg16",
          "--composite: decreasing-gamma-reference is defined for vgg16 only, not " + net.arch);
  Composite out = uniform_composite(net, make_rule(RuleKind::Zero));
  for (int idx : net.linear_indices()) {
    Rule r;
    if (idx == 0)
      r = make_rule(RuleKind::ZBox);
    else if (idx <= 17)
      r = gamma_rule(g1);
    else if (idx <= 24)
      r = gamma_rule(g2);
    else if (idx <= 31)
      r = gamma_rule(0.0);
    else
      r = make_rule(RuleKind::Zero, 0, 0, Stabilizer::None);
    out.rules[static_cast<size_t>(idx)] = r;
  }
  return out;
}

std::vector<PresetInfo> preset_infos() {
  return {
      {"tutorial", "(gamma=0.25, eps=0.25)",
       "first conv zbox; convs of the first round(3B/5) blocks gamma; the other convs epsilon; "
       "LRP-0 after the last conv"},
      {"decreasing-gamma", "(g1=0.25, g2=0.1)",
       "first conv zbox; the other convs in four groups (4:3:3:2) with gamma 0.5, g1, g2, 0; "
       "LRP-0 after the last conv"},
      {"decreasing-gamma-reference", "(g1=0.25, g2=0.1)",
       "vgg16 only: what the reference ran (zbox 0; g1 1-17; g2 18-24; 0 25-31; "
       "zero(stab=none) on the dense layers)"},
      {"uniform", "(RULE)", "RULE on every linear layer (zbox: first layer only)"},
  };
}

}  // namespace lrpbench
