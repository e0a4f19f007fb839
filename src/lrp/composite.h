#pragma once
// Composites: a rule for every linear layer of a network, by layer index (docs/method.md), and the
// composite text grammar (docs/method.md section 1).
#include <string>
#include <vector>

#include "lrp/rule.h"
#include "model/shape.h"

namespace lrpbench {

struct Composite {
  // rules[index] for every linear layer index of the network; other entries unused.
  std::vector<Rule> rules;
  const Rule& at(int index) const { return rules.at(static_cast<size_t>(index)); }
};

// Parses the text form for `net` (layer indices as loaded). Throws InputError with a
// one-line message naming the offending position, e.g.
// `--composite "tutorial(0.1,)": expected a number at position 13`.
Composite parse_composite(const std::string& text, const ModelShape& net);

// The canonical form: maximal runs of linear layers with the same rule, ascending.
std::string canonical_form(const Composite& c, const ModelShape& net);

// A composite giving every linear layer `rule` (zbox only allowed on the first layer).
Composite uniform_composite(const ModelShape& net, const Rule& rule);

}  // namespace lrpbench
