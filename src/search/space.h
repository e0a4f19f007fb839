#pragma once
// Search spaces (docs/method.md section 4a): parameter declarations and composite templates.
// No LibTorch: experiment parsing and its fuzz target use it.
//
// A declaration with a count or a list is discrete: log(a,b,n) and log(a,b,n)+0 (0, then
// 10^(a + (b-a) k / (n-1))), lin(a,b,n) (a + (b-a) k / (n-1)), or a list of numbers. One
// without a count is continuous over an internal coordinate u: log(a,b) (u in [a, b], value
// 10^u), log0(a,b) (u in [a-1, b]: 0 for u < a, 10^u otherwise), lin(a,b) (the value u).
#include <cstdint>
#include <string>
#include <vector>

namespace lrpbench {

// The log-spaced axis: (0 when plus_zero, then) std::pow(10.0, a + (b - a) k / (n - 1)) for
// k = 0 .. n-1 (10^a when n = 1), computed in double exactly so.
std::vector<double> log_axis(double a, double b, int64_t n, bool plus_zero);

struct ParamDecl {
  enum class Kind { List, Log, Log0, Lin };
  std::string name;
  Kind kind = Kind::List;
  double a = 0, b = 0;
  int64_t count = 0;           // discrete log / lin: the number of values; 0: continuous
  bool plus_zero = false;      // log(a,b,n)+0
  std::vector<double> list;    // Kind::List
  std::string text;            // the declaration as written (lists: empty)

  bool discrete() const { return kind == Kind::List || count > 0; }
  // Discrete: every value, in order.
  std::vector<double> values() const;
  // Continuous: the internal coordinate's range, and the value at u (clamped to the range).
  double lower() const;
  double upper() const;
  double value(double u) const;
  // Where a value lies in the declaration, in [0, 1]: the internal coordinate scaled to the
  // range (log0's 0 at the lower end), or a discrete value's index over (count - 1) (the
  // nearest value's). For figures (parallel coordinates, CMA-ES trajectories).
  double position(double value) const;
};

// Parses a declaration (text) for parameter `name`; errors are InputErrors starting with
// `where`.
ParamDecl parse_param(const std::string& name, const std::string& text, const std::string& where);
ParamDecl list_param(const std::string& name, const std::vector<double>& values);

// The placeholder names of a template in order of first appearance; a '{' without a name and
// '}' (or a name that is not [A-Za-z_][A-Za-z0-9_]*) is an InputError starting with `where`.
std::vector<std::string> template_placeholders(const std::string& text, const std::string& where);

// The template with every {name} replaced by the value of names[i] (std::to_chars form).
std::string fill_template(const std::string& text, const std::vector<std::string>& names,
                          const std::vector<double>& values);

}  // namespace lrpbench
