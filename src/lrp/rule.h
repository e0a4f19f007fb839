#pragma once
// LRP rules (docs/method.md section 1): a rule names a weight modifier and a stabilizer.
#include <string>
#include <vector>

#include "lrp/stabilizer_kind.h"
#include "model/shape.h"

namespace lrpbench {

// Version of the rules' numbers, recorded in every search store: 2 since gamma became the
// generalised form (docs/method.md); a store of another version is not resumed.
constexpr int kRulesVersion = 2;

// Pass: relevance unchanged (unfolded BatchNorm only). Identity .. Grad: the transformer
// kinds' own rules (docs/method.md, "Transformers").
enum class RuleKind {
  Zero, Epsilon, Gamma, ZBox, ZPlus, AlphaBeta, Flat, WSquare, Pass,
  Identity, AttnLRP, CP, Uniform, Gate, Grad
};

struct Rule {
  RuleKind kind = RuleKind::Zero;
  double p1 = 0.0;  // epsilon: e; gamma: g; alphabeta: alpha
  double p2 = 0.0;  // alphabeta: beta
  Stabilizer stab = Stabilizer::Sign;

  // The stabilizer's epsilon: e for epsilon(e) (1e-6 when e = 0), else 1e-6.
  double eps() const;
  // gamma(0) and epsilon(0) are LRP-0: returns `zero` with the same stabilizer.
  Rule normalized() const;
  // Canonical text, e.g. "gamma(0.25)", "zero(stab=none)" (of the normalized rule).
  std::string text() const;
  bool operator==(const Rule& o) const { return text() == o.text(); }
  bool operator!=(const Rule& o) const { return !(*this == o); }
};

// One row per rule: what the grammar, canonical forms and selectors know of it. Adding a rule
// is its row in rule.cpp's table plus its file in src/lrp/rules/ and that file's row in
// propagation.cpp (lrp/propagation.h).
struct RuleInfo {
  RuleKind kind;
  const char* name;
  // Arguments when none are written; their number is the rule's arity.
  std::vector<double> defaults;
  // A first argument of 0 makes it LRP-0 (epsilon(0), gamma(0)).
  bool zero_at_zero;
  // Whether a node of this kind can take the rule (docs/method.md, "Selectors").
  bool (*applies)(LayerKind kind);
  // The arguments' constraint: empty when they are valid, else the message's text.
  std::string (*check)(const std::string& name, const std::vector<double>& args);
};
// Every rule, in the grammar's order.
const std::vector<RuleInfo>& rule_table();
const RuleInfo& rule_info(RuleKind k);
// The rule called `name`, or nullptr.
const RuleInfo* find_rule(const std::string& name);

const char* rule_name(RuleKind k);
// Whether a node of this kind can take the rule: bn takes pass, zero and epsilon only; pass
// only bn; zbox a conv or dense layer (the composite checks that it is the first); add and
// the pools every other rule of linear maps; norm and act identity and grad; attention
// attnlrp, cp and grad; product uniform, gate and grad.
bool rule_applies(RuleKind rule, LayerKind kind);
// A node's rule where no composite item gives it one: LRP-0 on linear nodes, pass on an
// unfolded BatchNorm, the first rule of the table that fits the other kinds (identity on norm
// and act, attnlrp on attention, uniform on product).
RuleKind default_rule(LayerKind kind);
std::vector<std::string> rule_names();
// The largest gamma or epsilon (and preset argument) accepted: far larger ones overflow the
// modified weights and denominators in float32 (relevance of NaN).
constexpr double kMaxRuleArgument = 1e6;

// Number formatting of canonical forms: std::to_chars(double), shortest round trip.
std::string format_number(double v);

}  // namespace lrpbench
