#pragma once
// Composites: a rule for every rule-carrying node of a network, and the composite text grammar
// with its selectors (docs/method.md, "Composites" and "Graph models").
#include <string>
#include <vector>

#include "lrp/rule.h"
#include "model/shape.h"

namespace lrpbench {

struct Composite {
  // rules[slot] for every rule-carrying node (LayerInfo::slot: the layer index where the node
  // has one, as for every VGG layer); other entries unused.
  std::vector<Rule> rules;
  const Rule& at(int slot) const { return rules.at(static_cast<size_t>(slot)); }
};

// Parses the text form for `net` (layer indices as loaded). Throws InputError with a
// one-line message naming the offending position, e.g.
// `--composite "tutorial(0.1,)": expected a number at position 13`.
Composite parse_composite(const std::string& text, const ModelShape& net);

// The canonical form: maximal runs of rule-carrying nodes with the same rule, as
// `A-B:rule` by layer index (models whose rule nodes all have one: the VGGs) or as
// `A..B:rule` by name in execution order (graph models).
std::string canonical_form(const Composite& c, const ModelShape& net);

// LRP-0 on every linear node, `pass` on unfolded BatchNorms, the transformer kinds' defaults
// (identity on norm and act, attnlrp on attention, uniform on product): what items start from.
Composite base_composite(const ModelShape& net);
// The base composite with `rule` on every node that can take it (zbox: first layer only).
Composite uniform_composite(const ModelShape& net, const Rule& rule);

// `*` matches any characters (dots included), `?` one character.
bool glob_match(const std::string& pattern, const std::string& name);
// Position of the first conv in execution order (with `or_dense`, the first conv or dense
// layer; without any conv, the first dense layer), or -1.
int first_rule_node(const ModelShape& net, bool or_dense);

}  // namespace lrpbench
