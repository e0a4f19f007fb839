#include "lrp/rule.h"

#include <charconv>
#include <cmath>
#include <stdexcept>

namespace lrpbench {

namespace {

bool linear_node(LayerKind kind) { return is_linear(kind); }
bool bn_or_linear(LayerKind kind) { return kind == LayerKind::BatchNorm2d || is_linear(kind); }
bool bn_only(LayerKind kind) { return kind == LayerKind::BatchNorm2d; }
bool first_weights(LayerKind kind) {
  return kind == LayerKind::Conv2d || kind == LayerKind::Linear;
}

bool norm_or_act(LayerKind kind) { return kind == LayerKind::Norm || kind == LayerKind::Act; }
bool attention_only(LayerKind kind) { return kind == LayerKind::Attention; }
bool product_only(LayerKind kind) { return kind == LayerKind::Product; }
bool own_rules(LayerKind kind) { return carries_rule(kind) && !is_linear(kind); }

std::string any_args(const std::string&, const std::vector<double>&) { return ""; }
std::string nonnegative(const std::string& name, const std::vector<double>& args) {
  if (args[0] < 0) return name + " needs a non-negative argument";
  if (args[0] > kMaxRuleArgument) return name + " needs an argument of at most 1e6 (larger overflows float32)";
  return "";
}
std::string alpha_beta(const std::string&, const std::vector<double>& a) {
  return a[0] < 0 || a[1] < 0 || std::fabs(a[0] - a[1] - 1.0) > 1e-9
             ? "alphabeta(a,b) needs a - b = 1 and a, b >= 0"
             : "";
}

}  // namespace

const std::vector<RuleInfo>& rule_table() {
  static const std::vector<RuleInfo> table = {
      {RuleKind::Zero, "zero", {}, false, bn_or_linear, any_args},
      {RuleKind::Epsilon, "epsilon", {0.25}, true, bn_or_linear, nonnegative},
      {RuleKind::Gamma, "gamma", {0.25}, true, linear_node, nonnegative},
      {RuleKind::ZBox, "zbox", {}, false, first_weights, any_args},
      {RuleKind::ZPlus, "zplus", {}, false, linear_node, any_args},
      {RuleKind::AlphaBeta, "alphabeta", {2.0, 1.0}, false, linear_node, alpha_beta},
      {RuleKind::Flat, "flat", {}, false, linear_node, any_args},
      {RuleKind::WSquare, "wsquare", {}, false, linear_node, any_args},
      {RuleKind::Pass, "pass", {}, false, bn_only, any_args},
      {RuleKind::Identity, "identity", {}, false, norm_or_act, any_args},
      {RuleKind::AttnLRP, "attnlrp", {}, false, attention_only, any_args},
      {RuleKind::CP, "cp", {}, false, attention_only, any_args},
      {RuleKind::Uniform, "uniform", {}, false, product_only, any_args},
      {RuleKind::Gate, "gate", {}, false, product_only, any_args},
      {RuleKind::Grad, "grad", {}, false, own_rules, any_args},
  };
  return table;
}

const RuleInfo& rule_info(RuleKind k) {
  for (const RuleInfo& r : rule_table())
    if (r.kind == k) return r;
  throw std::logic_error("rule kind without a row in the rule table");
}

const RuleInfo* find_rule(const std::string& name) {
  for (const RuleInfo& r : rule_table())
    if (name == r.name) return &r;
  return nullptr;
}

const char* rule_name(RuleKind k) { return rule_info(k).name; }

std::vector<std::string> rule_names() {
  std::vector<std::string> out;
  for (const RuleInfo& r : rule_table()) out.push_back(r.name);
  return out;
}

bool rule_applies(RuleKind rule, LayerKind kind) { return rule_info(rule).applies(kind); }

RuleKind default_rule(LayerKind kind) {
  if (kind == LayerKind::BatchNorm2d) return RuleKind::Pass;
  if (is_linear(kind)) return RuleKind::Zero;
  for (const RuleInfo& r : rule_table())
    if (r.applies(kind)) return r.kind;
  return RuleKind::Zero;
}

std::string format_number(double v) {
  char buf[64];
  const auto res = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, res.ptr);
}

double Rule::eps() const {
  if (kind == RuleKind::Epsilon && p1 != 0.0) return p1;
  return 1e-6;
}

Rule Rule::normalized() const {
  Rule r = *this;
  if (rule_info(kind).zero_at_zero && p1 == 0.0) {
    r.kind = RuleKind::Zero;
    r.p1 = r.p2 = 0.0;
  }
  return r;
}

std::string Rule::text() const {
  const Rule r = normalized();
  std::vector<std::string> args;
  const size_t arity = rule_info(r.kind).defaults.size();
  if (arity > 0) args.push_back(format_number(r.p1));
  if (arity > 1) args.push_back(format_number(r.p2));
  if (r.stab != Stabilizer::Sign) args.push_back(std::string("stab=") + stabilizer_name(r.stab));
  std::string out = rule_name(r.kind);
  if (!args.empty()) {
    out += "(";
    for (size_t i = 0; i < args.size(); ++i) out += (i ? "," : "") + args[i];
    out += ")";
  }
  return out;
}

}  // namespace lrpbench
