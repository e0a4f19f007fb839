#include "search/space.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <regex>

#include "lrp/rule.h"
#include "util/error.h"
#include "util/limits.h"

namespace lrpbench {

std::vector<double> log_axis(double a, double b, int64_t n, bool plus_zero) {
  std::vector<double> out;
  if (plus_zero) out.push_back(0.0);
  for (int64_t k = 0; k < n; ++k)
    out.push_back(n == 1 ? std::pow(10.0, a)
                         : std::pow(10.0, a + (b - a) * static_cast<double>(k) /
                                              static_cast<double>(n - 1)));
  return out;
}

std::vector<double> ParamDecl::values() const {
  switch (kind) {
    case Kind::List:
      return list;
    case Kind::Log:
      return log_axis(a, b, count, plus_zero);
    case Kind::Lin: {
      std::vector<double> out;
      for (int64_t k = 0; k < count; ++k)
        out.push_back(count == 1 ? a
                                 : a + (b - a) * static_cast<double>(k) /
                                           static_cast<double>(count - 1));
      return out;
    }
    case Kind::Log0:
      break;
  }
  return {};
}

double ParamDecl::lower() const { return kind == Kind::Log0 ? a - 1 : a; }
double ParamDecl::upper() const { return b; }

double ParamDecl::position(double v) const {
  if (discrete()) {
    const std::vector<double> all = values();
    if (all.size() < 2) return 0.5;
    size_t best = 0;
    for (size_t i = 1; i < all.size(); ++i)
      if (std::fabs(all[i] - v) < std::fabs(all[best] - v)) best = i;
    return static_cast<double>(best) / static_cast<double>(all.size() - 1);
  }
  double u = v;
  if (kind == Kind::Log || kind == Kind::Log0) u = v > 0 ? std::log10(v) : lower();
  const double span = upper() - lower();
  return span > 0 ? std::clamp((u - lower()) / span, 0.0, 1.0) : 0.5;
}

double ParamDecl::value(double u) const {
  u = std::clamp(u, lower(), upper());
  switch (kind) {
    case Kind::Log:
      return std::pow(10.0, u);
    case Kind::Log0:
      return u < a ? 0.0 : std::pow(10.0, u);
    case Kind::Lin:
    case Kind::List:
      break;
  }
  return u;
}

ParamDecl list_param(const std::string& name, const std::vector<double>& values) {
  ParamDecl p;
  p.name = name;
  p.kind = ParamDecl::Kind::List;
  p.list = values;
  return p;
}

ParamDecl parse_param(const std::string& name, const std::string& text, const std::string& where) {
  static const std::regex re(
      R"(^\s*(log0|log|lin)\(\s*([-+0-9.eE]+)\s*,\s*([-+0-9.eE]+)\s*(,\s*([0-9]+)\s*)?\)\s*(\+\s*0)?\s*$)");
  std::smatch m;
  const std::string expected =
      " (expected log(a,b), log0(a,b), lin(a,b), log(a,b,n), log(a,b,n)+0, lin(a,b,n) or a "
      "list of numbers)";
  require(std::regex_match(text, m, re), where + ": bad declaration '" + text + "'" + expected);
  ParamDecl p;
  p.name = name;
  p.text = text;
  const std::string fn = m[1].str();
  p.kind = fn == "log" ? ParamDecl::Kind::Log
                       : fn == "log0" ? ParamDecl::Kind::Log0 : ParamDecl::Kind::Lin;
  char* end = nullptr;
  p.a = std::strtod(m[2].str().c_str(), &end);
  p.b = std::strtod(m[3].str().c_str(), &end);
  require(std::isfinite(p.a) && std::isfinite(p.b) && std::fabs(p.a) <= 1e6 &&
              std::fabs(p.b) <= 1e6,
          where + ": bad declaration '" + text + "' (a and b must be finite numbers)");
  p.plus_zero = m[6].matched;
  if (m[4].matched) {
    const std::string n = m[5].str();
    p.count = n.size() <= 6 ? std::stol(n) : 0;
    require(p.count >= 1 && p.count <= static_cast<int64_t>(kMaxAxisValues),
            where + ": bad declaration '" + text + "' (n from 1 to " +
                std::to_string(kMaxAxisValues) + ")");
    require(p.kind != ParamDecl::Kind::Log0,
            where + ": '" + text + "': log0 is continuous (give log(a,b,n)+0 for a discrete axis "
                                   "with 0)");
  } else {
    require(!p.plus_zero, where + ": '" + text +
                              "': +0 goes with a discrete log(a,b,n) (log0(a,b) is the "
                              "continuous form with 0)");
    require(p.a < p.b, where + ": '" + text + "': a continuous range needs a < b");
  }
  require(!p.plus_zero || p.kind == ParamDecl::Kind::Log,
          where + ": '" + text + "': +0 goes with log(a,b,n) only");
  return p;
}

std::vector<std::string> template_placeholders(const std::string& text, const std::string& where) {
  std::vector<std::string> out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '}') throw InputError(where + ": '}' without '{' in template '" + text + "'");
    if (text[i] != '{') continue;
    const size_t close = text.find('}', i);
    require(close != std::string::npos, where + ": '{' without '}' in template '" + text + "'");
    const std::string name = text.substr(i + 1, close - i - 1);
    bool ok = !name.empty() && (std::isalpha(static_cast<unsigned char>(name[0])) || name[0] == '_');
    for (char c : name) ok = ok && (std::isalnum(static_cast<unsigned char>(c)) || c == '_');
    require(ok, where + ": bad placeholder '{" + name + "}' in template '" + text +
                    "' (a name of letters, digits and _)");
    if (std::find(out.begin(), out.end(), name) == out.end()) out.push_back(name);
    i = close;
  }
  return out;
}

std::string fill_template(const std::string& text, const std::vector<std::string>& names,
                          const std::vector<double>& values) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '{') {
      out += text[i];
      continue;
    }
    const size_t close = text.find('}', i);
    const std::string name = text.substr(i + 1, close - i - 1);
    const size_t k =
        static_cast<size_t>(std::find(names.begin(), names.end(), name) - names.begin());
    out += format_number(values.at(k));
    i = close;
  }
  return out;
}

}  // namespace lrpbench
