#include "lrp/composite.h"

#include <cctype>
#include <cmath>
#include <cstdlib>

#include "lrp/presets.h"
#include "util/error.h"

namespace lrpbench {
namespace {

// Recursive-descent parser of the composite grammar; positions are 1-based columns of
// the original text.
class Parser {
 public:
  Parser(const std::string& text, const ModelShape& net) : t_(text), net_(net) {}

  Composite parse() {
    skip();
    require_that(pos_ < t_.size(), "empty composite");
    Composite out;
    if (std::isalpha(static_cast<unsigned char>(t_[pos_]))) {
      const size_t start = pos_;
      const std::string name = word();
      if (name == "tutorial" || name == "decreasing-gamma" ||
          name == "decreasing-gamma-reference") {
        std::vector<double> args = numbers();
        require_at(args.empty() || args.size() == 2, start,
                   name + " takes 0 or 2 arguments, got " + std::to_string(args.size()));
        if (name == "tutorial") {
          if (args.empty()) args = {0.25, 0.25};
          check_nonnegative(args, start, name);
          out = tutorial_composite(net_, args[0], args[1]);
        } else {
          if (args.empty()) args = {0.25, 0.1};
          check_nonnegative(args, start, name);
          out = name == "decreasing-gamma"
                    ? decreasing_gamma_composite(net_, args[0], args[1])
                    : decreasing_gamma_reference_composite(net_, args[0], args[1]);
        }
      } else if (name == "uniform") {
        expect('(');
        const size_t rs = pos_;
        const Rule r = rule();
        expect(')');
        check_uniform(r, rs);
        out = uniform_composite(net_, r);
      } else {
        pos_ = start;
        const Rule r = rule();
        check_uniform(r, start);
        out = uniform_composite(net_, r);
      }
      skip();
      require_at(pos_ == t_.size(), pos_,
                 "unexpected '" + std::string(1, t_[std::min(pos_, t_.size() - 1)]) +
                     "' after the composite");
      return out;
    }
    // item { ";" item }
    out = uniform_composite(net_, Rule{});
    while (true) {
      item(out);
      skip();
      if (pos_ == t_.size()) break;
      expect(';');
    }
    return out;
  }

 private:
  const std::string& t_;
  const ModelShape& net_;
  size_t pos_ = 0;

  [[noreturn]] void fail(size_t at, const std::string& what) const {
    throw InputError("--composite \"" + t_ + "\": " + what + " at position " +
                     std::to_string(at + 1));
  }
  void require_at(bool ok, size_t at, const std::string& what) const {
    if (!ok) fail(at, what);
  }
  void require_that(bool ok, const std::string& what) const {
    if (!ok) throw InputError("--composite \"" + t_ + "\": " + what);
  }
  void skip() {
    while (pos_ < t_.size() && std::isspace(static_cast<unsigned char>(t_[pos_]))) ++pos_;
  }
  bool peek(char c) {
    skip();
    return pos_ < t_.size() && t_[pos_] == c;
  }
  void expect(char c) {
    skip();
    if (pos_ >= t_.size()) fail(pos_, std::string("expected '") + c + "' but the text ended");
    if (t_[pos_] != c) fail(pos_, std::string("expected '") + c + "', found '" + t_[pos_] + "'");
    ++pos_;
  }
  std::string word() {
    skip();
    const size_t s = pos_;
    while (pos_ < t_.size() && (std::isalnum(static_cast<unsigned char>(t_[pos_])) ||
                                t_[pos_] == '-' || t_[pos_] == '_'))
      ++pos_;
    if (s == pos_) fail(s, "expected a name");
    return t_.substr(s, pos_ - s);
  }
  double number() {
    skip();
    const size_t s = pos_;
    if (pos_ < t_.size() && (std::isdigit(static_cast<unsigned char>(t_[pos_])) ||
                             t_[pos_] == '-' || t_[pos_] == '+' || t_[pos_] == '.')) {
      // strtod without hex, inf or nan: check the characters first.
      size_t e = pos_;
      while (e < t_.size() && (std::isdigit(static_cast<unsigned char>(t_[e])) || t_[e] == '.' ||
                               t_[e] == 'e' || t_[e] == 'E' || t_[e] == '-' || t_[e] == '+'))
        ++e;
      const std::string tok = t_.substr(s, e - s);
      char* end = nullptr;
      const double v = std::strtod(tok.c_str(), &end);
      if (end != tok.c_str() && std::isfinite(v)) {
        pos_ = s + static_cast<size_t>(end - tok.c_str());
        return v;
      }
    }
    fail(s, "expected a number");
  }
  std::vector<double> numbers() {
    std::vector<double> out;
    if (!peek('(')) return out;
    expect('(');
    if (peek(')')) {
      expect(')');
      return out;
    }
    while (true) {
      out.push_back(number());
      if (peek(')')) break;
      expect(',');
    }
    expect(')');
    return out;
  }
  static void check_nonnegative_at(const Parser& p, double v, size_t at, const std::string& n) {
    if (v < 0) p.fail(at, n + " needs non-negative arguments");
  }
  void check_nonnegative(const std::vector<double>& args, size_t at, const std::string& n) const {
    for (double v : args) check_nonnegative_at(*this, v, at, n);
  }

  Rule rule() {
    skip();
    const size_t start = pos_;
    const std::string name = word();
    Rule r;
    bool known = false;
    for (RuleKind k : {RuleKind::Zero, RuleKind::Epsilon, RuleKind::Gamma, RuleKind::ZBox,
                       RuleKind::ZPlus, RuleKind::AlphaBeta, RuleKind::Flat, RuleKind::WSquare})
      if (name == rule_name(k)) {
        r.kind = k;
        known = true;
      }
    if (!known) fail(start, "unknown rule '" + name + "'");
    std::vector<double> args;
    if (peek('(')) {
      expect('(');
      if (!peek(')')) {
        while (true) {
          skip();
          if (t_.compare(pos_, 5, "stab=") == 0) {
            pos_ += 5;
            const size_t ss = pos_;
            const std::string s = word();
            if (!parse_stabilizer(s, &r.stab)) fail(ss, "unknown stabilizer '" + s + "'");
          } else {
            args.push_back(number());
          }
          if (peek(')')) break;
          expect(',');
        }
      }
      expect(')');
    }
    size_t want = 0;
    if (r.kind == RuleKind::Epsilon || r.kind == RuleKind::Gamma) want = 1;
    if (r.kind == RuleKind::AlphaBeta) want = 2;
    if (!args.empty() && args.size() != want)
      fail(start, name + " takes " + std::to_string(want) + " argument(s), got " +
                      std::to_string(args.size()));
    if (args.empty()) {
      if (r.kind == RuleKind::Epsilon || r.kind == RuleKind::Gamma) args = {0.25};
      if (r.kind == RuleKind::AlphaBeta) args = {2.0, 1.0};
    }
    if (!args.empty()) r.p1 = args[0];
    if (args.size() > 1) r.p2 = args[1];
    if (r.kind == RuleKind::Epsilon || r.kind == RuleKind::Gamma)
      if (r.p1 < 0) fail(start, name + " needs a non-negative argument");
    if (r.kind == RuleKind::AlphaBeta)
      if (r.p1 < 0 || r.p2 < 0 || std::fabs(r.p1 - r.p2 - 1.0) > 1e-9)
        fail(start, "alphabeta(a,b) needs a - b = 1 and a, b >= 0");
    return r;
  }

  int first_linear() const { return net_.linear_indices().front(); }

  void check_uniform(const Rule& r, size_t at) const {
    if (r.kind == RuleKind::ZBox && net_.linear_indices().size() > 1)
      fail(at, "zbox may only be given to the first layer (index " +
                   std::to_string(first_linear()) + ")");
  }

  int integer() {
    skip();
    const size_t s = pos_;
    while (pos_ < t_.size() && std::isdigit(static_cast<unsigned char>(t_[pos_]))) ++pos_;
    if (s == pos_) fail(s, "expected a layer index");
    if (pos_ - s > 6) fail(s, "layer index too large");
    return std::stoi(t_.substr(s, pos_ - s));
  }

  void item(Composite& out) {
    skip();
    const size_t start = pos_;
    const int last = net_.num_indices - 1;
    const int a = integer();
    int b = a;
    if (peek('-')) {
      expect('-');
      skip();
      b = (pos_ < t_.size() && std::isdigit(static_cast<unsigned char>(t_[pos_]))) ? integer()
                                                                                   : last;
    }
    if (b < a) fail(start, "empty range " + std::to_string(a) + "-" + std::to_string(b));
    if (b > last)
      fail(start, "range ends at " + std::to_string(b) + ", past the last layer index " +
                      std::to_string(last) + " of " + net_.arch);
    expect(':');
    const size_t rs = pos_;
    const Rule r = rule();
    for (int idx : net_.linear_indices()) {
      if (idx < a || idx > b) continue;
      if (r.kind == RuleKind::ZBox && idx != first_linear())
        fail(rs, "zbox may only be given to the first layer (index " +
                     std::to_string(first_linear()) + "), not " + std::to_string(idx));
      out.rules[static_cast<size_t>(idx)] = r;
    }
  }
};

}  // namespace

Composite uniform_composite(const ModelShape& net, const Rule& rule) {
  Composite c;
  c.rules.assign(static_cast<size_t>(net.num_indices), Rule{});
  for (int idx : net.linear_indices()) c.rules[static_cast<size_t>(idx)] = rule;
  return c;
}

Composite parse_composite(const std::string& text, const ModelShape& net) {
  return Parser(text, net).parse();
}

std::string canonical_form(const Composite& c, const ModelShape& net) {
  const std::vector<int> lin = net.linear_indices();
  std::string out;
  size_t i = 0;
  while (i < lin.size()) {
    size_t j = i;
    const std::string r = c.at(lin[i]).text();
    while (j + 1 < lin.size() && c.at(lin[j + 1]).text() == r) ++j;
    if (!out.empty()) out += ";";
    out += std::to_string(lin[i]);
    if (j > i) out += "-" + std::to_string(lin[j]);
    out += ":" + r;
    i = j + 1;
  }
  return out;
}

}  // namespace lrpbench
