#pragma once
// LRP rules (docs/method.md section 1): a rule names a weight modifier and a stabilizer.
#include <string>
#include <vector>

#include "lrp/stabilizer_kind.h"

namespace lrpbench {

enum class RuleKind { Zero, Epsilon, Gamma, ZBox, ZPlus, AlphaBeta, Flat, WSquare };

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

const char* rule_name(RuleKind k);
std::vector<std::string> rule_names();
// Number formatting of canonical forms: std::to_chars(double), shortest round trip.
std::string format_number(double v);

}  // namespace lrpbench
