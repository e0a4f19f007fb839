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
  std::vector<size_t> convs;    // positions of the convs, in execution order
  std::vector<int> conv_block;  // block number (0-based) of each conv
  int blocks = 0;               // number of conv blocks
};

// Blocks: maximal runs of convs, consecutive in execution order, with the same output
// resolution (for a VGG a block ends at a max-pool).
ConvLayout conv_layout(const ModelShape& net) {
  ConvLayout c;
  int64_t resolution = -1;
  for (size_t p = 0; p < net.layers.size(); ++p) {
    const LayerInfo& l = net.layers[p];
    if (l.kind != LayerKind::Conv2d || l.slot < 0) continue;
    if (l.resolution != resolution) ++c.blocks;
    resolution = l.resolution;
    c.convs.push_back(p);
    c.conv_block.push_back(c.blocks - 1);
  }
  require(!c.convs.empty(), "model " + net.arch + " has no conv layer for a preset composite");
  return c;
}

void set(Composite& c, const ModelShape& net, size_t pos, const Rule& r) {
  c.rules[static_cast<size_t>(net.layers[pos].slot)] = r;
}

// Gives each conv its rule in `conv_rule` and the first conv zbox; every other node keeps
// the base composite's LRP-0 (pass on unfolded BatchNorms).
Composite by_conv(const ModelShape& net, const ConvLayout& c, const std::vector<Rule>& conv_rule) {
  Composite out = base_composite(net);
  for (size_t i = 0; i < c.convs.size(); ++i) set(out, net, c.convs[i], conv_rule[i]);
  set(out, net, c.convs.front(), make_rule(RuleKind::ZBox));
  return out;
}

// zennit's composites by layer type: `first` on the first layer, `conv` on the other convs,
// epsilon(e) on dense layers, LRP-0 on add and average pooling, pass on BatchNorm.
Composite by_type(const ModelShape& net, const Rule* first, bool first_or_dense, const Rule& conv,
                  double e) {
  Composite out = base_composite(net);
  const Rule dense = make_rule(RuleKind::Epsilon, e).normalized();
  for (size_t p : net.rule_nodes()) {
    const LayerKind k = net.layers[p].kind;
    if (k == LayerKind::Conv2d) set(out, net, p, conv);
    if (k == LayerKind::Linear) set(out, net, p, dense);
  }
  if (first) {
    const int f = first_rule_node(net, first_or_dense);
    require(f >= 0, "model " + net.arch + " has no conv or dense layer");
    set(out, net, static_cast<size_t>(f), *first);
  }
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

Composite epsilon_gamma_box_composite(const ModelShape& net, double gamma, double eps) {
  const Rule box = make_rule(RuleKind::ZBox);
  return by_type(net, &box, false, gamma_rule(gamma), eps);
}

Composite epsilon_plus_composite(const ModelShape& net, double eps, bool flat) {
  const Rule first = make_rule(RuleKind::Flat);
  return by_type(net, flat ? &first : nullptr, true, make_rule(RuleKind::ZPlus), eps);
}

Composite epsilon_alpha2_beta1_composite(const ModelShape& net, double eps) {
  return by_type(net, nullptr, false, make_rule(RuleKind::AlphaBeta, 2.0, 1.0), eps);
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

Composite transformer_composite(const ModelShape& net, bool attnlrp, double gc, double gl) {
  Composite out = base_composite(net);
  const Rule plain = make_rule(RuleKind::Zero, 0, 0, Stabilizer::None);
  for (size_t p : net.rule_nodes()) {
    const LayerInfo& l = net.layers[p];
    Rule r;
    switch (l.kind) {
      case LayerKind::Conv2d: r = gamma_rule(gc); break;
      case LayerKind::Linear: r = l.attention_projection ? plain : gamma_rule(gl); break;
      case LayerKind::Add:
      case LayerKind::AvgPool2d:
      case LayerKind::AdaptiveAvgPool2d: r = plain; break;
      case LayerKind::Attention: r = make_rule(attnlrp ? RuleKind::AttnLRP : RuleKind::CP); break;
      case LayerKind::Norm:
      case LayerKind::Act: r = make_rule(RuleKind::Identity); break;
      case LayerKind::Product: r = make_rule(attnlrp ? RuleKind::Uniform : RuleKind::Gate); break;
      default: continue;  // an unfolded BatchNorm keeps pass
    }
    set(out, net, p, r);
  }
  return out;
}

std::vector<PresetInfo> preset_infos() {
  return {
      {"tutorial", "(gamma=0.25, eps=0.25)",
       "first conv zbox; convs of the first round(3B/5) blocks (runs of convs with one output "
       "resolution) gamma; the other convs epsilon; LRP-0 elsewhere"},
      {"decreasing-gamma", "(g1=0.25, g2=0.1)",
       "first conv zbox; the other convs in four groups (4:3:3:2) with gamma 0.5, g1, g2, 0; "
       "LRP-0 elsewhere"},
      {"decreasing-gamma-reference", "(g1=0.25, g2=0.1)",
       "vgg16 only: what the reference ran (zbox 0; g1 1-17; g2 18-24; 0 25-31; "
       "zero(stab=none) on the dense layers)"},
      {"epsilon-gamma-box", "(gamma=0.25, eps=1e-6)",
       "zennit's: first conv zbox; other convs gamma; dense epsilon; add and average pooling "
       "LRP-0; unfolded BatchNorm pass"},
      {"epsilon-plus", "(eps=1e-6)", "zennit's: convs zplus; dense epsilon; add, pooling LRP-0"},
      {"epsilon-plus-flat", "(eps=1e-6)",
       "zennit's: first conv or dense layer flat; other convs zplus; dense epsilon"},
      {"epsilon-alpha2-beta1", "(eps=1e-6)",
       "zennit's: convs alphabeta(2,1); dense epsilon; add, pooling LRP-0"},
      {"cp-lrp", "(gc=0.25, gl=0.05)",
       "transformers (LXT's recipe): convs gamma(gc); dense gamma(gl); attention projections, "
       "add and average pooling zero(stab=none); attention cp; norm and act identity; product "
       "gate"},
      {"attnlrp", "(gc=0.25, gl=0.05)",
       "transformers (AttnLRP): as cp-lrp with attention attnlrp and product uniform"},
      {"uniform", "(RULE)",
       "RULE on every node that takes it (zbox: first layer only; BatchNorm keeps pass "
       "unless RULE is zero or epsilon)"},
  };
}

}  // namespace lrpbench
