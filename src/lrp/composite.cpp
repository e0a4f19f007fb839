#include "lrp/composite.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <iterator>

#include "lrp/presets.h"
#include "util/error.h"

namespace lrpbench {
namespace {

// Recursive-descent parser of the composite grammar; positions are 1-based columns of
// the original text.
class Parser {
 public:
  Parser(const std::string& text, const ModelShape& net) : t_(text), net_(net) {}

  // composite := head [ ";" item { ";" item } ] | item { ";" item }, where a head is a
  // preset or a bare rule (a segment without ':').
  Composite parse() {
    skip();
    require_that(pos_ < t_.size(), "empty composite");
    const auto [seg_end, colon] = item_bounds();
    Composite out;
    if (colon == std::string::npos) {
      out = head(seg_end);
      if (seg_end == t_.size()) return out;
      const size_t semi = pos_;
      expect(';');
      skip();
      require_at(pos_ < t_.size(), semi, "unexpected ';' after the composite");
    } else {
      out = base_composite(net_);
    }
    while (true) {
      item(out);
      skip();
      if (pos_ == t_.size()) break;
      expect(';');
    }
    return out;
  }

 private:
  // A preset or a bare rule ending at `end`.
  Composite head(size_t end) {
    const size_t start = pos_;
    const std::string name = word();
    Composite out;
    if (is_type_preset(name)) {
      out = type_preset(name, numbers(), start);
    } else if (name == "tutorial" || name == "decreasing-gamma" ||
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
    } else if (name == "cp-lrp" || name == "attnlrp") {
      std::vector<double> args = numbers();
      require_at(args.empty() || args.size() == 2, start,
                 name + " takes 0 or 2 arguments, got " + std::to_string(args.size()));
      if (args.empty()) args = {0.25, 0.05};
      check_nonnegative(args, start, name);
      out = transformer_composite(net_, name == "attnlrp", args[0], args[1]);
    } else if (name == "uniform" && peek('(')) {
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
    require_at(pos_ == end, pos_,
               "unexpected '" + std::string(1, t_[std::min(pos_, t_.size() - 1)]) +
                   "' after the composite");
    return out;
  }

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
    if (v > kMaxRuleArgument) p.fail(at, n + " needs arguments of at most 1e6 (larger overflow float32)");
  }
  void check_nonnegative(const std::vector<double>& args, size_t at, const std::string& n) const {
    for (double v : args) check_nonnegative_at(*this, v, at, n);
  }

  Rule rule() {
    skip();
    const size_t start = pos_;
    const std::string name = word();
    Rule r;
    const RuleInfo* info = find_rule(name);
    if (!info) fail(start, "unknown rule '" + name + "'");
    r.kind = info->kind;
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
    const size_t want = info->defaults.size();
    if (!args.empty() && args.size() != want)
      fail(start, name + " takes " + std::to_string(want) + " argument(s), got " +
                      std::to_string(args.size()));
    if (args.empty()) args = info->defaults;
    if (!args.empty()) r.p1 = args[0];
    if (args.size() > 1) r.p2 = args[1];
    if (!args.empty()) {
      const std::string bad = info->check(name, args);
      if (!bad.empty()) fail(start, bad);
    }
    return r;
  }

  void check_uniform(const Rule& r, size_t at) const {
    bool any = false;
    for (const LayerInfo& l : net_.layers) any = any || (l.slot >= 0 && rule_applies(r.kind, l.kind));
    if (!any) fail(at, std::string(rule_name(r.kind)) + " applies to no node of " + net_.arch);
    if (r.kind == RuleKind::ZBox && net_.rule_nodes().size() > 1)
      fail(at, "zbox may only be given to the first layer (" + describe(first_node(false)) + ")");
    if (r.kind == RuleKind::Pass) fail(at, "pass can only be given to BatchNorm nodes");
  }

  int integer(size_t end) {
    skip();
    const size_t s = pos_;
    while (pos_ < end && std::isdigit(static_cast<unsigned char>(t_[pos_]))) ++pos_;
    if (s == pos_) fail(s, "expected a layer index");
    if (pos_ - s > 6) fail(s, "layer index too large");
    return std::stoi(t_.substr(s, pos_ - s));
  }

  // The end of the item starting at pos_ (a ';' outside parentheses, or the end) and the
  // position of its last ':' outside parentheses.
  std::pair<size_t, size_t> item_bounds() const {
    int depth = 0;
    size_t colon = std::string::npos, e = pos_;
    for (; e < t_.size(); ++e) {
      const char c = t_[e];
      if (c == '(') ++depth;
      if (c == ')') --depth;
      if (depth == 0 && c == ':') colon = e;
      if (depth == 0 && c == ';') break;
    }
    return {e, colon};
  }

  // Positions in net_.layers of the rule-carrying nodes a selector names.
  std::vector<size_t> select(size_t start, size_t end) {
    std::string sel = t_.substr(start, end - start);
    while (!sel.empty() && std::isspace(static_cast<unsigned char>(sel.back()))) sel.pop_back();
    const size_t lead = sel.find_first_not_of(" \t\r\n");
    require_at(lead != std::string::npos, start, "expected a selector before ':'");
    start += lead;
    sel = sel.substr(lead);
    if (sel.find_first_not_of("0123456789- \t") == std::string::npos) return select_range(start);
    std::vector<size_t> out;
    const std::vector<size_t> nodes = net_.rule_nodes();
    if (sel[0] == '@') {
      const std::string type = sel.substr(1);
      if (type == "first") {
        const int f = first_node(false);
        if (f >= 0) out.push_back(static_cast<size_t>(f));
        return out;
      }
      static const char* types[] = {"conv", "linear", "bn",        "add",     "avgpool",
                                    "norm", "act",    "attention", "product", "attn-linear",
                                    "all"};
      require_at(std::find(std::begin(types), std::end(types), type) != std::end(types), start,
                 "unknown node type '@" + type +
                     "' (known: @first, @conv, @linear, @bn, @add, @avgpool, @norm, @act, "
                     "@attention, @product, @attn-linear, @all)");
      for (size_t p : nodes) {
        const LayerInfo& l = net_.layers[p];
        if (type == "all" || type == node_kind_name(l.kind) ||
            (type == "attn-linear" && l.attention_projection))
          out.push_back(p);
      }
      return out;
    }
    const size_t dots = sel.find("..");
    if (dots != std::string::npos) {
      const int a = named(sel.substr(0, dots), start);
      const int b = named(sel.substr(dots + 2), start + dots + 2);
      require_at(b >= a, start, "'" + sel + "': " + sel.substr(dots + 2) + " runs before " +
                                    sel.substr(0, dots));
      for (size_t p : nodes)
        if (static_cast<int>(p) >= a && static_cast<int>(p) <= b) out.push_back(p);
      return out;
    }
    for (size_t p : nodes)
      if (glob_match(sel, net_.layers[p].name)) out.push_back(p);
    return out;
  }

  std::vector<size_t> select_range(size_t start) {
    if (net_.num_indices == 0)
      fail(start, net_.arch + " has no layer indices: select its nodes by name (a glob or A..B) "
                  "or by type (@conv, @linear, ...)");
    const size_t end = item_bounds().second;
    const int last = net_.num_indices - 1;
    const int a = integer(end);
    int b = a;
    if (peek('-')) {
      expect('-');
      skip();
      b = (pos_ < end && std::isdigit(static_cast<unsigned char>(t_[pos_]))) ? integer(end) : last;
    }
    skip();
    require_at(pos_ == end, pos_, "expected ':' after the layer range");
    if (b < a) fail(start, "empty range " + std::to_string(a) + "-" + std::to_string(b));
    if (b > last)
      fail(start, "range ends at " + std::to_string(b) + ", past the last layer index " +
                      std::to_string(last) + " of " + net_.arch);
    std::vector<size_t> out;
    for (size_t p : net_.rule_nodes()) {
      const int idx = net_.layers[p].index;
      if (idx >= a && idx <= b) out.push_back(p);
    }
    return out;
  }

  int named(const std::string& raw, size_t at) const {
    std::string name = raw;
    while (!name.empty() && std::isspace(static_cast<unsigned char>(name.back()))) name.pop_back();
    while (!name.empty() && std::isspace(static_cast<unsigned char>(name.front())))
      name.erase(0, 1);
    for (size_t p = 0; p < net_.layers.size(); ++p)
      if (net_.layers[p].name == name) return static_cast<int>(p);
    fail(at, "no node named '" + name + "' in " + net_.arch);
  }

  void item(Composite& out) {
    skip();
    const size_t start = pos_;
    const auto [end, colon] = item_bounds();
    require_at(colon != std::string::npos, start, "expected 'selector:rule'");
    const std::vector<size_t> nodes = select(start, colon);
    pos_ = colon + 1;
    const size_t rs = pos_;
    const Rule r = rule();
    int set = 0;
    const int first = first_node(false);
    for (size_t p : nodes) {
      const LayerInfo& l = net_.layers[p];
      if (!rule_applies(r.kind, l.kind)) continue;
      if (r.kind == RuleKind::ZBox && static_cast<int>(p) != first)
        fail(rs, "zbox may only be given to the first layer (" + describe(first) + "), not " +
                     describe(static_cast<int>(p)));
      out.rules[static_cast<size_t>(l.slot)] = r;
      ++set;
    }
    if (set == 0)
      fail(start, "'" + t_.substr(start, colon - start) + "' selects no node of " + net_.arch +
                      " that takes " + rule_name(r.kind));
  }

  std::string describe(int pos) const {
    const LayerInfo& l = net_.layers[static_cast<size_t>(pos)];
    if (net_.by_index) return "index " + std::to_string(l.index);
    return l.name;
  }

  // The first conv reached from the input (with `or_dense`, the first conv or dense layer;
  // without a conv, the first dense layer): position, or -1.
  int first_node(bool or_dense) const { return first_rule_node(net_, or_dense); }

  static bool is_type_preset(const std::string& name) {
    return name == "epsilon-gamma-box" || name == "epsilon-plus" || name == "epsilon-plus-flat" ||
           name == "epsilon-alpha2-beta1";
  }

  Composite type_preset(const std::string& name, std::vector<double> args, size_t start) {
    const size_t most = name == "epsilon-gamma-box" ? 2 : 1;
    require_at(args.size() <= most, start,
               name + " takes at most " + std::to_string(most) + " argument(s), got " +
                   std::to_string(args.size()));
    check_nonnegative(args, start, name);
    if (name == "epsilon-gamma-box") {
      const double g = args.size() > 0 ? args[0] : 0.25;
      const double e = args.size() > 1 ? args[1] : 1e-6;
      return epsilon_gamma_box_composite(net_, g, e);
    }
    const double e = args.empty() ? 1e-6 : args[0];
    if (name == "epsilon-plus") return epsilon_plus_composite(net_, e, false);
    if (name == "epsilon-plus-flat") return epsilon_plus_composite(net_, e, true);
    return epsilon_alpha2_beta1_composite(net_, e);
  }
};

}  // namespace

bool glob_match(const std::string& pattern, const std::string& name) {
  // Iterative wildcard match: '*' any run of characters (dots included), '?' one.
  size_t p = 0, n = 0, star = std::string::npos, mark = 0;
  while (n < name.size()) {
    if (p < pattern.size() && (pattern[p] == '?' || pattern[p] == name[n])) {
      ++p;
      ++n;
    } else if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      mark = n;
    } else if (star != std::string::npos) {
      p = star + 1;
      n = ++mark;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

int first_rule_node(const ModelShape& net, bool or_dense) {
  int dense = -1;
  for (size_t p : net.rule_nodes()) {
    const LayerKind k = net.layers[p].kind;
    if (k == LayerKind::Conv2d) return static_cast<int>(p);
    if (k == LayerKind::Linear && dense < 0) {
      if (or_dense) return static_cast<int>(p);
      dense = static_cast<int>(p);
    }
  }
  return dense;
}

Composite base_composite(const ModelShape& net) {
  Composite c;
  c.rules.assign(static_cast<size_t>(net.num_slots), Rule{});
  for (const LayerInfo& l : net.layers)
    if (l.slot >= 0) c.rules[static_cast<size_t>(l.slot)].kind = default_rule(l.kind);
  return c;
}

Composite uniform_composite(const ModelShape& net, const Rule& rule) {
  Composite c = base_composite(net);
  for (const LayerInfo& l : net.layers)
    if (l.slot >= 0 && rule_applies(rule.kind, l.kind)) c.rules[static_cast<size_t>(l.slot)] = rule;
  return c;
}

Composite parse_composite(const std::string& text, const ModelShape& net) {
  return Parser(text, net).parse();
}

std::string canonical_form(const Composite& c, const ModelShape& net) {
  // Runs of rule-carrying nodes with the same rule: by layer index (ascending) for models
  // whose rule nodes all have one, else by name in execution order.
  struct Entry {
    std::string key, rule;
  };
  std::vector<Entry> entries;
  if (net.by_index) {
    for (int idx : net.linear_indices()) entries.push_back({std::to_string(idx), c.at(idx).text()});
  } else {
    for (size_t p : net.rule_nodes())
      entries.push_back({net.layers[p].name, c.at(net.layers[p].slot).text()});
  }
  const std::string to = net.by_index ? "-" : "..";
  std::string out;
  size_t i = 0;
  while (i < entries.size()) {
    size_t j = i;
    while (j + 1 < entries.size() && entries[j + 1].rule == entries[i].rule) ++j;
    if (!out.empty()) out += ";";
    out += entries[i].key;
    if (j > i) out += to + entries[j].key;
    out += ":" + entries[i].rule;
    i = j + 1;
  }
  return out;
}

}  // namespace lrpbench
