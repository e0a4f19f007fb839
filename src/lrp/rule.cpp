#include "lrp/rule.h"

#include <charconv>

namespace lrpbench {

const char* rule_name(RuleKind k) {
  switch (k) {
    case RuleKind::Zero:
      return "zero";
    case RuleKind::Epsilon:
      return "epsilon";
    case RuleKind::Gamma:
      return "gamma";
    case RuleKind::ZBox:
      return "zbox";
    case RuleKind::ZPlus:
      return "zplus";
    case RuleKind::AlphaBeta:
      return "alphabeta";
    case RuleKind::Flat:
      return "flat";
    case RuleKind::WSquare:
      return "wsquare";
    case RuleKind::Pass:
      return "pass";
  }
  return "?";
}

std::vector<std::string> rule_names() {
  return {"zero", "epsilon", "gamma", "zbox", "zplus", "alphabeta", "flat", "wsquare", "pass"};
}

bool rule_applies(RuleKind rule, LayerKind kind) {
  if (kind == LayerKind::BatchNorm2d)
    return rule == RuleKind::Pass || rule == RuleKind::Zero || rule == RuleKind::Epsilon;
  if (rule == RuleKind::Pass) return false;
  if (rule == RuleKind::ZBox) return kind == LayerKind::Conv2d || kind == LayerKind::Linear;
  return is_linear(kind);
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
  if ((kind == RuleKind::Gamma || kind == RuleKind::Epsilon) && p1 == 0.0) {
    r.kind = RuleKind::Zero;
    r.p1 = r.p2 = 0.0;
  }
  return r;
}

std::string Rule::text() const {
  const Rule r = normalized();
  std::vector<std::string> args;
  if (r.kind == RuleKind::Epsilon || r.kind == RuleKind::Gamma) args.push_back(format_number(r.p1));
  if (r.kind == RuleKind::AlphaBeta) {
    args.push_back(format_number(r.p1));
    args.push_back(format_number(r.p2));
  }
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
