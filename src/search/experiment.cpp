#include "search/experiment.h"

#include <toml++/toml.h>

#include <algorithm>
#include <stdexcept>
#include <cmath>
#include <cstdlib>
#include <regex>
#include <set>

#include "data/imagenet_labels.h"
#include "lrp/rule.h"
#include "model/shape.h"
#include "perturbation/auc.h"
#include "util/error.h"
#include "util/file.h"
#include "util/limits.h"

namespace lrpbench {

std::string Family::composite(const std::vector<double>& values) const {
  return fill_template(templ, param_names(), values);
}

std::vector<std::string> Family::param_names() const {
  std::vector<std::string> out;
  for (const ParamDecl& p : params) out.push_back(p.name);
  return out;
}

bool Family::discrete() const {
  return std::all_of(params.begin(), params.end(), [](const ParamDecl& p) { return p.discrete(); });
}

uint64_t Family::grid_size() const {
  uint64_t n = 1;
  for (const ParamDecl& p : params) {
    const uint64_t k = p.values().size();
    n = k == 0 || n > (uint64_t{1} << 40) / k ? (uint64_t{1} << 40) : n * k;
  }
  return n;
}

std::vector<size_t> Family::grid_point(uint64_t i) const {
  std::vector<size_t> out(params.size());
  for (size_t k = params.size(); k-- > 0;) {
    const uint64_t n = params[k].values().size();
    out[k] = static_cast<size_t>(i % n);
    i /= n;
  }
  return out;
}

namespace {

// The built-in families: a two-argument preset over its two axes.
struct BuiltinFamily {
  const char* name;
  const char* p1;
  const char* p2;
};
constexpr BuiltinFamily kBuiltinFamilies[] = {
    {"tutorial", "gamma", "eps"},
    {"decreasing-gamma", "g1", "g2"},
    {"cp-lrp", "gc", "gl"},
    {"attnlrp", "gc", "gl"},
};

const BuiltinFamily* find_builtin_family(const std::string& name) {
  for (const BuiltinFamily& b : kBuiltinFamilies)
    if (name == b.name) return &b;
  return nullptr;
}

}  // namespace

Family builtin_family(const std::string& name, const std::vector<double>& values1,
                      const std::vector<double>& values2) {
  const BuiltinFamily* b = find_builtin_family(name);
  if (!b) throw std::logic_error("no built-in family '" + name + "'");
  Family f;
  f.name = name;
  f.builtin = true;
  f.templ = name + "({" + b->p1 + "},{" + b->p2 + "})";
  f.params = {list_param(b->p1, values1), list_param(b->p2, values2)};
  return f;
}

nlohmann::json metric_options_json(const MetricOptions& o) {
  auto opt = [](const std::optional<int64_t>& v) { return v ? nlohmann::json(*v) : nlohmann::json(); };
  return {{"road_fractions", o.road_fractions}, {"road_noise", o.road_noise},
          {"fc_runs", o.fc_runs},               {"fc_subset", opt(o.fc_subset)},
          {"irof_region", opt(o.irof_region)},  {"ms_samples", o.ms_samples},
          {"ms_radius", o.ms_radius},           {"pg_tolerance", opt(o.pg_tolerance)}};
}

MetricOptions metric_options_from_json(const nlohmann::json& j) {
  auto opt = [&](const char* key) {
    return j.at(key).is_null() ? std::optional<int64_t>() : j.at(key).get<int64_t>();
  };
  MetricOptions o;
  o.road_fractions = j.at("road_fractions").get<std::vector<double>>();
  o.road_noise = j.at("road_noise");
  o.fc_runs = j.at("fc_runs");
  o.fc_subset = opt("fc_subset");
  o.irof_region = opt("irof_region");
  o.ms_samples = j.at("ms_samples");
  o.ms_radius = j.at("ms_radius");
  o.pg_tolerance = opt("pg_tolerance");
  return o;
}

std::vector<double> parse_axis_values(const std::string& text, const std::string& where) {
  std::smatch m;
  static const std::regex log_re(
      R"(^\s*log\(\s*([-+0-9.eE]+)\s*,\s*([-+0-9.eE]+)\s*,\s*([0-9]+)\s*\)\s*(\+\s*0)?\s*$)");
  require(std::regex_match(text, m, log_re),
          where + ": bad range '" + text + "' (expected log(a,b,n) or log(a,b,n)+0)");
  char* end = nullptr;
  const double a = std::strtod(m[1].str().c_str(), &end);
  const double b = std::strtod(m[2].str().c_str(), &end);
  const long n = m[3].str().size() <= 6 ? std::stol(m[3].str()) : 0;
  require(m[3].str().size() <= 6 && std::isfinite(a) && std::isfinite(b) && n >= 1 &&
              n <= static_cast<long>(kMaxAxisValues),
          where + ": bad range '" + text + "' (n from 1 to " + std::to_string(kMaxAxisValues) +
              ")");
  return log_axis(a, b, n, m[4].matched);
}

nlohmann::json Experiment::definition() const {
  nlohmann::json fam = nlohmann::json::array();
  for (const Family& f : families) {
    if (f.builtin) {
      fam.push_back({{"name", f.name},
                     {"values1", f.params[0].values()},
                     {"values2", f.params[1].values()}});
      continue;
    }
    nlohmann::json params = nlohmann::json::array();
    for (const ParamDecl& p : f.params)
      params.push_back({p.name, p.discrete() && p.kind == ParamDecl::Kind::List
                                    ? nlohmann::json(p.list)
                                    : nlohmann::json(p.text)});
    fam.push_back({{"name", f.name}, {"template", f.templ}, {"params", params}});
  }
  nlohmann::json ord = nlohmann::json::array();
  for (Order o : orders) ord.push_back(order_name(o));
  nlohmann::json pfj = pf.to_json();
  pfj.erase("batch");  // batching inside a work unit is fixed by it (below), not a setting
  nlohmann::json out = {{"model", model},
          {"weights", weights},
          {"data",
           {{"dataset", data.dataset},
            {"split", data.split},
            {"imagenet", data.imagenet},
            {"folder", data.folder},
            {"labels", data.labels},
            {"class", data.class_index},
            {"count", data.count},
            {"resize", data.resize},
            {"target", data.target}}},
          {"families", fam},
          {"references", references},
          {"orders", ord},
          {"pf", pfj},
          {"batch", pf.batch},
          {"auc", auc_kind}};
  // Absent keys keep the definitions of older experiments equal.
  if (!normalize.empty()) out["normalize"] = normalize;
  if (!data.boxes.empty()) out["data"]["boxes"] = data.boxes;
  if (data.holdout > 0) out["data"]["holdout"] = data.holdout;
  if (!metric_list.empty())
    out["metrics"] = {{"list", metric_list}, {"options", metric_options_json(metric_options)}};
  if (!objective.empty()) out["objective"] = objective;
  if (!objectives.empty()) out["objectives"] = objectives;
  if (search.strategy != Strategy::Grid)
    out["search"] = {{"strategy", strategy_name(search.strategy)}, {"budget", search.budget}};
  if (search.evolves()) {
    out["search"]["population"] = search.population;
    out["search"]["generations"] = search.generations;
  }
  if (search.strategy == Strategy::Halving) {
    out["search"]["eta"] = search.eta;
    out["search"]["min_images"] = search.min_images;
    out["search"]["sampler"] = strategy_name(search.sampler);
  }
  return out;
}

std::vector<std::string> Experiment::metric_names() const {
  if (!metric_list.empty()) return metric_list;
  std::vector<std::string> out;
  for (Order o : orders) out.push_back(std::string("pf-") + order_name(o));
  return out;
}

std::vector<std::string> Experiment::extra_metrics() const {
  std::vector<std::string> out;
  for (const std::string& n : metric_list)
    if (!find_metric_info(n).pf_order) out.push_back(n);
  return out;
}

std::string Experiment::objective_name() const {
  if (!objective.empty()) return objective;
  if (!objectives.empty()) return objectives.front();
  const std::vector<std::string> names = metric_names();
  for (const std::string& n : names)
    if (metric_better(find_metric_info(n), auc_kind) != Better::None) return n;
  return names.empty() ? std::string() : names.front();
}

std::vector<std::string> Experiment::objective_names() const {
  if (!objectives.empty()) return objectives;
  return {objective_name()};
}

namespace {
const std::vector<std::pair<Strategy, std::string>>& strategy_table() {
  static const std::vector<std::pair<Strategy, std::string>> t = {
      {Strategy::Grid, "grid"},       {Strategy::Random, "random"}, {Strategy::Sobol, "sobol"},
      {Strategy::Halving, "halving"}, {Strategy::Cmaes, "cmaes"},   {Strategy::Nsga2, "nsga2"}};
  return t;
}
}  // namespace

const std::string& strategy_name(Strategy s) {
  for (const auto& [k, name] : strategy_table())
    if (k == s) return name;
  throw std::logic_error("strategy_name: unknown strategy");
}

std::optional<Strategy> parse_strategy(const std::string& name) {
  for (const auto& [k, n] : strategy_table())
    if (n == name) return k;
  return std::nullopt;
}

MetricOptions Experiment::metric_settings() const {
  MetricOptions o = metric_options;
  o.seed = pf.seed;
  o.score = pf.score == "prob" ? "prob" : "logit";
  o.batch = pf.batch;
  o.pf = pf;
  o.auc_kind = auc_kind;
  return o;
}

namespace {

// "source:line", or "source" for a node without a line (a table built in memory: a stored
// run definition read back through the reader).
std::string located(const std::string& source, int64_t line) {
  return line > 0 ? source + ":" + std::to_string(line) : source;
}

// An experiment well formed but refused by a check newer than some stores (a built-in family
// under an evolving strategy, a family named like a kind of work unit): a stored definition
// refused so was not damaged, its experiment is no longer run.
struct RefusedExperiment : InputError {
  using InputError::InputError;
};

// Walks a parsed TOML document, consuming keys; anything left is an unknown key.
class Reader {
 public:
  Reader(const std::string& source) : source_(source) {}

  [[noreturn]] void fail(const toml::node& n, const std::string& key,
                         const std::string& what) const {
    throw InputError(located(source_, n.source().begin.line) + ": key '" + key +
                     "': " + what);
  }
  // As fail, for the checks of RefusedExperiment.
  [[noreturn]] void refuse(const toml::node& n, const std::string& key,
                           const std::string& what) const {
    throw RefusedExperiment(located(source_, n.source().begin.line) + ": key '" + key +
                            "': " + what);
  }

  void check_known(const toml::table& t, const std::string& prefix,
                   const std::set<std::string>& known) const {
    for (const auto& [k, v] : t) {
      const std::string key(k.str());
      if (!known.count(key))
        throw InputError(located(source_, v.source().begin.line) + ": unknown key '" +
                         (prefix.empty() ? key : prefix + "." + key) + "'");
    }
  }

  std::string str(const toml::table& t, const std::string& sec, const std::string& key,
                  const std::string& def) const {
    const toml::node* n = t.get(key);
    if (!n) return def;
    if (!n->is_string()) fail(*n, sec + key, "expected a string");
    return std::string(*n->value<std::string>());
  }

  // A string that is empty only when the key is absent: an empty one ("") would pass for "not
  // given" and silently choose the default.
  std::string named(const toml::table& t, const std::string& sec, const std::string& key) const {
    const std::string v = str(t, sec, key, "");
    if (t.get(key) && v.empty()) fail(*t.get(key), sec + key, "expected a non-empty string");
    return v;
  }

  int64_t integer(const toml::table& t, const std::string& sec, const std::string& key, int64_t def,
                  int64_t min = 0, int64_t max = INT64_MAX) const {
    const toml::node* n = t.get(key);
    if (!n) return def;
    if (!n->is_integer()) fail(*n, sec + key, "expected an integer");
    const int64_t v = *n->value<int64_t>();
    if (v < min || v > max)
      fail(*n, sec + key,
           "expected a value from " + std::to_string(min) + " to " + std::to_string(max) +
               ", got " + std::to_string(v));
    return v;
  }

  double real(const toml::table& t, const std::string& sec, const std::string& key,
              double def) const {
    const toml::node* n = t.get(key);
    if (!n) return def;
    if (!n->is_number()) fail(*n, sec + key, "expected a number");
    const double v = *n->value<double>();
    if (!std::isfinite(v)) fail(*n, sec + key, "expected a finite number");
    return v;
  }

  std::vector<double> reals(const toml::table& t, const std::string& sec, const std::string& key,
                            const std::vector<double>& def) const {
    const toml::node* n = t.get(key);
    if (!n) return def;
    if (!n->is_array()) fail(*n, sec + key, "expected a list of numbers");
    if (n->as_array()->size() > kMaxAxisValues) fail(*n, sec + key, "too many values");
    std::vector<double> out;
    for (const auto& e : *n->as_array()) {
      if (!e.is_number()) fail(e, sec + key, "expected a list of numbers");
      out.push_back(*e.value<double>());
    }
    return out;
  }

  std::vector<std::string> strings(const toml::table& t, const std::string& sec,
                                   const std::string& key) const {
    std::vector<std::string> out;
    const toml::node* n = t.get(key);
    if (!n) return out;
    if (!n->is_array()) fail(*n, sec + key, "expected an array of strings");
    if (n->as_array()->size() > kMaxAxisValues) fail(*n, sec + key, "too many values");
    for (const auto& e : *n->as_array()) {
      if (!e.is_string()) fail(e, sec + key, "expected an array of strings");
      out.emplace_back(*e.value<std::string>());
    }
    return out;
  }

  std::vector<double> axis(const toml::table& t, const std::string& sec, const std::string& key,
                           const std::vector<double>& def) const {
    const toml::node* n = t.get(key);
    if (!n) return def;
    const std::string where =
        located(source_, n->source().begin.line) + ": key '" + sec + key + "'";
    if (n->is_string()) return parse_axis_values(std::string(*n->value<std::string>()), where);
    if (!n->is_array()) fail(*n, sec + key, "expected a list of numbers or \"log(a,b,n)+0\"");
    std::vector<double> out;
    for (const auto& e : *n->as_array()) {
      if (!e.is_number()) fail(e, sec + key, "expected numbers");
      out.push_back(*e.value<double>());
      if (!(out.back() >= 0) || !std::isfinite(out.back()))
        fail(e, sec + key, "values must be finite and >= 0");
    }
    if (out.empty()) fail(*n, sec + key, "empty list");
    if (out.size() > kMaxAxisValues)
      fail(*n, sec + key,
           "at most " + std::to_string(kMaxAxisValues) + " values, got " + std::to_string(out.size()));
    return out;
  }

  // A [section] table, or an empty one.
  const toml::table& section(const toml::table& root, const std::string& name) const {
    static const toml::table empty;
    const toml::node* n = root.get(name);
    if (!n) return empty;
    if (!n->is_table()) fail(*n, name, "expected a table [" + name + "]");
    return *n->as_table();
  }

 private:
  std::string source_;
};

template <typename F>
void checked(const Reader& r, const toml::table& t, const std::string& sec, const std::string& key,
             F fn) {
  const toml::node* n = t.get(key);
  if (!n) return;
  try {
    fn();
  } catch (const InputError& e) {
    r.fail(*n, sec + key, e.what());
  }
}

}  // namespace

namespace {

void read_model(const Reader& r, const toml::table& root, const std::string& source, Experiment& x) {
  const toml::table& model = r.section(root, "model");
  r.check_known(model, "model", {"name", "weights", "file", "normalize"});
  x.model = r.str(model, "model.", "name", "fashion-vgg");
  x.weights = r.named(model, "model.", "weights");
  x.normalize = r.named(model, "model.", "normalize");
  const std::string file = r.named(model, "model.", "file");
  if (!file.empty()) {
    if (model.contains("name") || model.contains("weights"))
      r.fail(*model.get("file"), "model.file",
             "give either a model file or a built-in name (with weights), not both");
    // Relative to the experiment file's folder.
    const auto slash = source.rfind('/');
    x.model = file[0] == '/' || slash == std::string::npos ? file : source.substr(0, slash + 1) + file;
    if (x.model.find('/') == std::string::npos) x.model = "./" + x.model;
    return;
  }
  if (!x.normalize.empty())
    r.fail(*model.get("normalize"), "model.normalize", "goes with 'model.file' only");
  if (!is_embedded_model(x.model) && x.weights.empty()) {
    const int line =
        root.get("model") ? static_cast<int>(root.get("model")->source().begin.line) : 1;
    throw InputError(located(source, line) + ": key 'model.weights': required for " +
                     x.model + " (no pretrained weights can be downloaded here)");
  }

}

void read_data(const Reader& r, const toml::table& root, const std::string& source, Experiment& x) {
  const toml::table& data = r.section(root, "data");
  r.check_known(
      data, "data",
      {"dataset", "split", "imagenet", "folder", "labels", "boxes", "class", "count", "holdout",
       "resize", "target"});
  DataSpec& d = x.data;
  d.dataset = r.named(data, "data.", "dataset");
  d.split = r.str(data, "data.", "split", "test");
  d.imagenet = r.named(data, "data.", "imagenet");
  d.folder = r.named(data, "data.", "folder");
  d.labels = r.named(data, "data.", "labels");
  d.boxes = r.named(data, "data.", "boxes");
  d.count = r.integer(data, "data.", "count", 0, 0, kMaxImages);
  d.holdout = r.integer(data, "data.", "holdout", 0, 0, kMaxImages);
  if (d.holdout > 0 && d.count > 0 && d.holdout >= d.count)
    r.fail(*data.get("holdout"), "data.holdout",
           "must be less than the image count (" + std::to_string(d.count) + ")");
  d.resize = r.str(data, "data.", "resize", "256-crop224");
  d.target = r.str(data, "data.", "target", "auto");
  if (const toml::node* c = data.get("class")) {
    if (c->is_integer()) {
      d.class_index = *c->value<int64_t>();
      if (d.class_index < 0 || d.class_index > 999)
        r.fail(*c, "data.class", "expected a class index from 0 to 999");
    } else if (c->is_string()) {
      d.class_index = imagenet_index(std::string(*c->value<std::string>()));
      if (d.class_index < 0) r.fail(*c, "data.class", "unknown WordNet id");
    } else {
      r.fail(*c, "data.class", "expected a class index or a WordNet id");
    }
  }
  const int sources = !d.dataset.empty() + !d.imagenet.empty() + !d.folder.empty();
  if (sources != 1)
    throw InputError(source + ": [data] needs exactly one of dataset, imagenet, folder");
  if (!d.dataset.empty() && d.dataset != "fashion-mnist")
    r.fail(*data.get("dataset"), "data.dataset", "unknown dataset '" + d.dataset + "'");
  if (d.split != "test" && d.split != "train")
    r.fail(*data.get("split"), "data.split", "expected test or train");
  checked(r, data, "data.", "resize", [&] {
    if (d.resize != "256-crop224" && d.resize != "224" && d.resize != "none")
      throw InputError("expected 256-crop224, 224 or none");
  });
  if (d.target != "auto" && d.target != "argmax" &&
      (d.target.empty() || d.target.size() > 6 ||
       d.target.find_first_not_of("0123456789") != std::string::npos))
    r.fail(*data.get("target"), "data.target", "expected auto, argmax or a class index");

}

// A template family: `template` with {name} placeholders and one declaration per placeholder
// in [family.params] (a string, or a list of numbers).
Family read_template_family(const Reader& r, const toml::table& t, const toml::node& e,
                            const std::string& source, const SearchSpec& search) {
  Family f;
  f.name = r.str(t, "family.", "name", "");
  const toml::node& tn = *t.get("template");
  f.templ = r.str(t, "family.", "template", "");
  f.line = static_cast<int>(tn.source().begin.line);
  const std::string at_template =
      located(source, f.line) + ": key 'family.template'";
  const std::vector<std::string> names = template_placeholders(f.templ, at_template);
  if (names.empty()) r.fail(tn, "family.template", "no {parameter} placeholder");
  const toml::table* decl = t.get("params") ? t.get("params")->as_table() : nullptr;
  if (t.get("params") && !decl) r.fail(*t.get("params"), "family.params", "expected a table");
  static const toml::table none;
  const toml::table& params = decl ? *decl : none;
  for (const auto& [k, v] : params) {
    const std::string key(k.str());
    if (std::find(names.begin(), names.end(), key) == names.end())
      r.fail(v, "family.params." + key, "the template has no placeholder {" + key + "}");
  }
  for (const std::string& name : names) {
    const toml::node* n = params.get(name);
    if (!n)
      r.fail(tn, "family.template",
             "placeholder {" + name + "} has no declaration in [family.params]");
    const std::string where =
        located(source, n->source().begin.line) + ": key 'family.params." + name + "'";
    if (n->is_string()) {
      f.params.push_back(parse_param(name, std::string(*n->value<std::string>()), where));
    } else if (n->is_array()) {
      std::vector<double> values;
      for (const auto& v : *n->as_array()) {
        if (!v.is_number() || !std::isfinite(*v.value<double>()))
          r.fail(v, "family.params." + name, "expected finite numbers");
        values.push_back(*v.value<double>());
      }
      if (values.empty() || values.size() > kMaxAxisValues)
        r.fail(*n, "family.params." + name,
               "expected 1 to " + std::to_string(kMaxAxisValues) + " values");
      f.params.push_back(list_param(name, values));
    } else {
      r.fail(*n, "family.params." + name, "expected a declaration string or a list of numbers");
    }
    if (search.evolves() && f.params.back().discrete())
      r.fail(*n, "family.params." + name,
             strategy_name(search.strategy) +
                 " needs continuous parameters (log(a,b), log0(a,b) or lin(a,b))");
    if (search.draw() == Strategy::Grid && !f.params.back().discrete())
      r.fail(*n, "family.params." + name,
             "the grid strategy needs discrete parameters (give a count, log(a,b,n), or a list; "
             "halving over a continuous space needs a budget)");
  }
  (void)e;
  return f;
}

void read_families(const Reader& r, const toml::table& root, const std::string& source,
                   Experiment& x) {
  if (const toml::node* fams = root.get("family")) {
    if (!fams->is_array_of_tables()) r.fail(*fams, "family", "expected [[family]] tables");
    for (const auto& e : *fams->as_array()) {
      const toml::table& t = *e.as_table();
      Family f;
      if (t.get("template")) {
        r.check_known(t, "family", {"name", "template", "params"});
        const std::string name = r.str(t, "family.", "name", "");
        // "reference" and "holdout" name the store's work units of reference points and
        // held-out images.
        bool ok = !name.empty() && name.size() <= 64 && name != "reference" && name != "holdout";
        for (char c : name) ok = ok && (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_');
        if (!ok)
          r.refuse(t.get("name") ? *t.get("name") : e, "family.name",
                 "expected a name of letters, digits, - and _ (not 'reference' or 'holdout'), "
                 "got '" + name + "'");
        f = read_template_family(r, t, e, source, x.search);
      } else {
        r.check_known(t, "family", {"name", "values", "values1", "values2"});
        const std::string name = r.str(t, "family.", "name", "");
        const BuiltinFamily* builtin = find_builtin_family(name);
        if (!builtin)
          r.fail(t.get("name") ? *t.get("name") : e, "family.name",
                 "expected tutorial, decreasing-gamma, cp-lrp or attnlrp (or give a template), "
                 "got '" + name + "'");
        // Its axes (values, values1, values2, or the default) are discrete.
        if (x.search.evolves())
          r.refuse(*t.get("name"), "family.name",
                 "family '" + name + "': strategy " + strategy_name(x.search.strategy) +
                     " needs continuous parameters, and a built-in family's values are discrete "
                     "axes; give a template with continuous ranges, e.g. template = \"" + name +
                     "({" + builtin->p1 + "},{" + builtin->p2 + "})\" with [family.params] " +
                     builtin->p1 + " = \"log0(-4,0)\", " + builtin->p2 + " = \"log0(-4,0)\"");
        if (t.get("values") && (t.get("values1") || t.get("values2")))
          r.fail(*t.get("values"), "family.values",
                 "give either values (both axes) or values1 / values2, not both");
        const std::vector<double> both =
            r.axis(t, "family.", "values", parse_axis_values("log(-4,0,15)+0", ""));
        f = builtin_family(name, r.axis(t, "family.", "values1", both),
                           r.axis(t, "family.", "values2", both));
        f.line = static_cast<int>(e.source().begin.line);
      }
      for (const Family& g : x.families)
        if (g.name == f.name) r.fail(e, "family.name", "family '" + f.name + "' given twice");
      x.families.push_back(f);
    }
  }
  const toml::table& ref = r.section(root, "reference");
  r.check_known(ref, "reference", {"points"});
  x.references = r.strings(ref, "reference.", "points");

}

void read_pf(const Reader& r, const toml::table& root, const std::string& source, Experiment& x) {
  const toml::table& pf = r.section(root, "pf");
  r.check_known(pf, "pf",
                {"orders", "mode", "fill", "radius", "patch", "schedule", "score", "preset",
                 "patch_reduce", "full_mask", "final_step"});
  std::vector<std::string> orders = r.strings(pf, "pf.", "orders");
  if (pf.get("orders") && orders.empty())
    r.fail(*pf.get("orders"), "pf.orders", "empty list (give morf, lrf and/or random)");
  if (orders.empty()) orders = {"morf", "lrf", "random"};
  checked(r, pf, "pf.", "orders", [&] {
    std::string list;
    for (const auto& o : orders) list += (list.empty() ? "" : ",") + o;
    x.orders = parse_orders(list);
  });
  if (x.orders.empty()) x.orders = parse_orders("morf,lrf,random");
  const std::string preset = r.str(pf, "pf.", "preset", "");
  if (preset == "thesis")
    x.pf.apply_thesis_preset();
  else if (!preset.empty())
    r.fail(*pf.get("preset"), "pf.preset", "expected \"\" or \"thesis\"");
  x.pf.mode = r.str(pf, "pf.", "mode", x.pf.mode);
  x.pf.fill = r.str(pf, "pf.", "fill", x.pf.fill);
  x.pf.radius = static_cast<int>(r.integer(pf, "pf.", "radius", x.pf.radius, 1, kMaxRadius));
  x.pf.patch = r.integer(pf, "pf.", "patch", 0, 1, kMaxPatch);
  checked(r, pf, "pf.", "schedule",
          [&] { x.pf.schedule = parse_schedule(r.str(pf, "pf.", "schedule", "quadratic")); });
  x.pf.score = r.str(pf, "pf.", "score", x.pf.score);
  x.pf.reduce = r.str(pf, "pf.", "patch_reduce", x.pf.reduce);
  x.pf.full_mask = r.str(pf, "pf.", "full_mask", x.pf.full_mask);
  x.pf.final_step = r.str(pf, "pf.", "final_step", x.pf.final_step);
  try {
    x.pf.check();
  } catch (const InputError& e) {
    // Point at the key the message is about (messages start with the CLI option name).
    const std::string msg = e.what();
    for (const char* key :
         {"mode", "fill", "score", "patch_reduce", "full_mask", "final_step", "radius"}) {
      std::string opt = std::string("--") + key;
      std::replace(opt.begin(), opt.end(), '_', '-');
      if (msg.rfind(opt, 0) == 0 && pf.get(key))
        r.fail(*pf.get(key), std::string("pf.") + key, msg.substr(opt.size() + 2));
    }
    throw InputError(source + ": [pf]: " + msg);
  }

}

void read_run_and_auc(const Reader& r, const toml::table& root, Experiment& x) {
  const toml::table& run = r.section(root, "run");
  r.check_known(run, "run", {"seed", "batch"});
  x.pf.seed = static_cast<uint64_t>(r.integer(run, "run.", "seed", 0));
  x.pf.batch = r.integer(run, "run.", "batch", 64, 1, kMaxBatch);

  const toml::table& a = r.section(root, "auc");
  r.check_known(a, "auc", {"kind"});
  x.auc_kind = r.str(a, "auc.", "kind", "auc");
  checked(r, a, "auc.", "kind", [&] { check_auc_kind(x.auc_kind); });
}

// [metrics]: the list (the single source of what is computed; its pf-* entries are the PF
// orders) and the metric options, checked where they are written.
void read_metrics(const Reader& r, const toml::table& root, Experiment& x) {
  const toml::table& m = r.section(root, "metrics");
  r.check_known(m, "metrics",
                {"list", "road_fractions", "road_noise", "fc_runs", "fc_subset", "irof_region",
                 "ms_samples", "ms_radius", "pg_tolerance"});
  if (!m.empty() && !m.get("list")) r.fail(*root.get("metrics"), "metrics.list", "missing");
  if (m.empty()) return;
  x.metric_list = r.strings(m, "metrics.", "list");
  const toml::node& list = *m.get("list");
  if (x.metric_list.empty()) r.fail(list, "metrics.list", "empty list");
  std::vector<Order> orders;
  std::set<std::string> seen;
  for (const std::string& name : x.metric_list) {
    if (!seen.insert(name).second) r.fail(list, "metrics.list", "'" + name + "' given twice");
    try {
      if (const auto o = find_metric_info(name).pf_order) orders.push_back(*o);
    } catch (const InputError& e) {
      std::string msg = e.what();
      if (msg.rfind("--metrics: ", 0) == 0) msg = msg.substr(11);
      r.fail(list, "metrics.list", msg);
    }
  }
  const toml::table& pf = r.section(root, "pf");
  if (pf.get("orders") && orders != x.orders)
    r.fail(*pf.get("orders"), "pf.orders",
           "disagrees with the pf-* entries of [metrics] list (give the orders there only)");
  x.orders = orders;
  MetricOptions& o = x.metric_options;
  o.road_fractions = r.reals(m, "metrics.", "road_fractions", o.road_fractions);
  o.road_noise = r.real(m, "metrics.", "road_noise", o.road_noise);
  o.fc_runs = r.integer(m, "metrics.", "fc_runs", o.fc_runs, 2, 100000);
  if (m.get("fc_subset")) o.fc_subset = r.integer(m, "metrics.", "fc_subset", 1, 1, int64_t{1} << 30);
  if (m.get("irof_region")) o.irof_region = r.integer(m, "metrics.", "irof_region", 16, 2, 4096);
  o.ms_samples = r.integer(m, "metrics.", "ms_samples", o.ms_samples, 1, 10000);
  o.ms_radius = r.real(m, "metrics.", "ms_radius", o.ms_radius);
  if (m.get("pg_tolerance")) o.pg_tolerance = r.integer(m, "metrics.", "pg_tolerance", 1, 0, 4096);
  try {
    o.check();
  } catch (const InputError& e) {
    // Point at the key the message is about (messages start with the CLI option name).
    const std::string msg = e.what();
    for (const char* key : {"road_fractions", "road_noise", "ms_radius"}) {
      std::string opt = std::string("--") + key;
      std::replace(opt.begin(), opt.end(), '_', '-');
      if (msg.rfind(opt, 0) == 0 && m.get(key))
        r.fail(*m.get(key), std::string("metrics.") + key, msg.substr(opt.size() + 2));
    }
    throw;
  }
}

// [search] strategy and budget (read before the families, whose parameters they constrain).
void read_strategy(const Reader& r, const toml::table& root, Experiment& x) {
  const toml::table& s = r.section(root, "search");
  r.check_known(s, "search",
                {"objective", "objectives", "strategy", "budget", "eta", "min_images", "sampler",
                 "population", "generations"});
  SearchSpec& q = x.search;
  const std::string strategy = r.str(s, "search.", "strategy", "grid");
  const auto parsed = parse_strategy(strategy);
  if (!parsed)
    r.fail(*s.get("strategy"), "search.strategy",
           "expected grid, random, sobol, halving, cmaes or nsga2, got '" + strategy + "'");
  q.strategy = *parsed;
  const std::string name = strategy_name(q.strategy);
  q.population = r.integer(s, "search.", "population", 0, 5, 10000);
  q.generations = r.integer(s, "search.", "generations", 20, 0, 100000);
  for (const char* key : {"population", "generations"})
    if (!q.evolves() && s.get(key))
      r.fail(*s.get(key), std::string("search.") + key, "goes with strategy cmaes or nsga2");
  if (q.strategy == Strategy::Nsga2 && s.get("population") &&
      (q.population < 8 || q.population % 4 != 0))
    r.fail(*s.get("population"), "search.population",
           "nsga2 needs a multiple of 4, at least 8, got " + std::to_string(q.population));
  if (q.evolves() && s.get("budget"))
    r.fail(*s.get("budget"), "search.budget",
           name + " evaluates population x (generations + 1)");
  q.budget = r.integer(s, "search.", "budget", 0, 1, static_cast<int64_t>(kMaxConfigurations));
  q.eta = r.integer(s, "search.", "eta", 3, 2, 1000);
  q.min_images = r.integer(s, "search.", "min_images", 2, 1, kMaxImages);
  const std::string sampler = r.str(s, "search.", "sampler", "random");
  const bool halving = q.strategy == Strategy::Halving;
  if (q.strategy == Strategy::Grid && s.get("budget"))
    r.fail(*s.get("budget"), "search.budget", "goes with strategy random, sobol or halving");
  if ((q.strategy == Strategy::Random || q.strategy == Strategy::Sobol) && !s.get("budget"))
    r.fail(*s.get("strategy"), "search.budget", "strategy " + name + " needs a budget");
  for (const char* key : {"eta", "min_images", "sampler"})
    if (!halving && s.get(key))
      r.fail(*s.get(key), std::string("search.") + key, "goes with strategy halving");
  if (sampler != "random" && sampler != "sobol")
    r.fail(*s.get("sampler"), "search.sampler", "expected random or sobol");
  q.sampler = *parse_strategy(sampler);
  if (s.get("sampler") && !s.get("budget"))
    r.fail(*s.get("sampler"), "search.sampler", "draws `budget` configurations: give a budget");
}

// An objective: a metric of the list with a better direction.
void check_objective(const Reader& r, const toml::node& at, const std::string& key,
                     const std::string& objective, const Experiment& x) {
  const std::vector<std::string> names = x.metric_names();
  if (std::find(names.begin(), names.end(), objective) == names.end())
    r.fail(at, key,
           "'" + objective +
               "' is not in [metrics] list (or, without one, [pf] orders as pf-<order>)");
  if (metric_better(find_metric_info(objective), x.auc_kind) == Better::None)
    r.fail(at, key, "'" + objective + "' has no better direction to optimise");
}

// [search] objective (one metric), or objectives (two or more, for nsga2).
void read_search(const Reader& r, const toml::table& root, Experiment& x) {
  const toml::table& s = r.section(root, "search");
  const bool nsga2 = x.search.strategy == Strategy::Nsga2;
  x.objective = r.named(s, "search.", "objective");
  if (!x.objective.empty()) {
    if (nsga2)
      r.fail(*s.get("objective"), "search.objective",
             "nsga2 trades off several: give objectives = [...]");
    check_objective(r, *s.get("objective"), "search.objective", x.objective, x);
  }
  if (!s.get("objectives")) {
    if (nsga2)
      r.fail(*s.get("strategy"), "search.objectives", "nsga2 needs two or more objectives");
    return;
  }
  const toml::node& list = *s.get("objectives");
  if (!nsga2) r.fail(list, "search.objectives", "goes with strategy nsga2 (else: objective)");
  x.objectives = r.strings(s, "search.", "objectives");
  if (x.objectives.size() < 2) r.fail(list, "search.objectives", "needs two or more metrics");
  std::set<std::string> seen;
  for (const std::string& o : x.objectives) {
    if (!seen.insert(o).second) r.fail(list, "search.objectives", "'" + o + "' given twice");
    check_objective(r, list, "search.objectives", o, x);
  }
}

}  // namespace

namespace {

// The experiment a TOML document describes, with every check of the experiment reader.
Experiment read_experiment(const toml::table& root, const std::string& source) {
  const Reader r(source);
  r.check_known(root, "",
                {"model", "data", "family", "reference", "pf", "run", "auc", "metrics", "search"});
  Experiment x;
  x.source = source;

  read_model(r, root, source, x);
  read_data(r, root, source, x);
  read_strategy(r, root, x);
  read_families(r, root, source, x);
  read_pf(r, root, source, x);
  read_run_and_auc(r, root, x);
  read_metrics(r, root, x);
  read_search(r, root, x);
  if (x.families.empty() && x.references.empty())
    throw InputError(source + ": nothing to compute: no [[family]] and no [reference] points");
  uint64_t configurations = 0;
  for (const Family& f : x.families)
    configurations += x.search.evolves()
                          ? 0
                          : x.search.draw() == Strategy::Grid ? f.grid_size()
                                                      : static_cast<uint64_t>(x.search.budget);
  if (configurations > kMaxConfigurations)
    throw InputError(source + ": the grid has " + std::to_string(configurations) +
                     " configurations, more than " + std::to_string(kMaxConfigurations));
  if (x.references.size() > kMaxAxisValues)
    throw InputError(source + ": key 'reference.points': too many reference points");
  return x;
}

}  // namespace

Experiment parse_experiment_text(const std::string& text, const std::string& source) {
  toml::table root;
  try {
    root = toml::parse(text, source);
  } catch (const toml::parse_error& e) {
    throw InputError(source + ":" + std::to_string(e.source().begin.line) + ": " +
                     std::string(e.description()));
  }
  return read_experiment(root, source);
}

Experiment parse_experiment_file(const std::string& path) {
  return parse_experiment_text(read_file(path, "experiment file", kMaxExperimentBytes), path);
}

namespace {

// [metrics] with every registered metric at its defaults (fashion-thesis-metrics).
std::string every_metric_toml() {
  std::string list;
  for (const MetricInfo& m : metric_catalogue()) list += (list.empty() ? "\"" : ", \"") + m.name + "\"";
  return "[metrics]\nlist = [" + list + "]\n";
}

}  // namespace

std::vector<std::string> experiment_preset_names() {
  return {"fashion-thesis", "fashion-thesis-metrics", "fashion-halving", "fashion-blocks", "fashion-pareto",
          "vgg16-thesis",   "fashion-vit-gamma",      "vit-imagenet-gamma"};
}

namespace {

// The thesis's images and PF settings: 50 Fashion-MNIST ankle boots (fashion-thesis) ...
const char* const kFashionThesisData = R"TOML(
[data]
dataset = "fashion-mnist"
split = "test"
class = 9
count = 50
target = "auto"
[pf]
orders = ["morf", "lrf", "random"]
mode = "telea"
radius = 3
patch = 2
schedule = "quadratic"
score = "logit"
)TOML";

// ... and 50 ImageNet images of class 29 with the thesis's PF preset (vgg16-thesis), on the
// built-in `arch` with its weights; `label` names the weights in the message.
std::string imagenet_thesis_model_and_data(const std::string& preset, const std::string& arch,
                                           const std::string& label, const std::string& weights,
                                           const std::string& imagenet, const std::string& model,
                                           const std::string& normalize) {
  require(model.empty() || model == arch,
          "--model: --preset " + preset + " runs on " + arch + ", not '" + model + "'");
  require(normalize.empty(), "--normalize goes with --model FILE");
  require(!weights.empty(), "--preset " + preset + " needs --weights FILE (" + label +
                                " weights; none can be downloaded here)");
  require(!imagenet.empty(), "--preset " + preset + " needs --imagenet DIR (the ImageNet "
                             "validation folder, val/<wnid>/*.JPEG)");
  nlohmann::json w = weights, d = imagenet;  // JSON strings are valid TOML basic strings
  return R"TOML(
[model]
name = ")TOML" + arch + R"TOML("
weights = )TOML" + w.dump() + R"TOML(
[data]
imagenet = )TOML" + d.dump() + R"TOML(
class = 29
count = 50
resize = "224"
target = "auto"
[pf]
orders = ["morf", "lrf", "random"]
preset = "thesis"
patch = 8
)TOML";
}

}  // namespace

Experiment preset_experiment(const std::string& name, const std::string& weights,
                             const std::string& imagenet, const std::string& model,
                             const std::string& normalize) {
  const std::string families = R"TOML(
[[family]]
name = "tutorial"
values = "log(-4,0,15)+0"
[[family]]
name = "decreasing-gamma"
values = "log(-4,0,15)+0"
[reference]
points = ["tutorial(0.25,0.25)", "decreasing-gamma", "zero"]
[run]
seed = 0
batch = 64
[auc]
kind = "auc"
)TOML";
  if (name == "fashion-thesis" || name == "fashion-thesis-metrics") {
    require(weights.empty() && imagenet.empty(),
            "--preset " + name + " uses a shipped model and Fashion-MNIST: drop "
            "--weights / --imagenet");
    const std::string m = model.empty() ? "fashion-vgg" : model;
    const bool file = m.find('/') != std::string::npos || m.find('.') != std::string::npos;
    require(m == "fashion-vgg" || m == "fashion-resnet" || file,
            "--model: --preset " + name + " runs on fashion-vgg (default), fashion-resnet or "
            "a 1-channel model FILE, not '" + m + "'" +
                (m == "fashion-vit" ? " (transformers: --preset fashion-vit-gamma)" : ""));
    require(file || normalize.empty(), "--normalize goes with --model FILE");
    nlohmann::json path = m, norm = normalize;  // JSON strings are valid TOML basic strings
    const std::string model_toml =
        file ? "file = " + path.dump() + (normalize.empty() ? "" : "\nnormalize = " + norm.dump())
             : "name = " + path.dump();
    return parse_experiment_text("\n[model]\n" + model_toml + kFashionThesisData + families +
                                     (name == "fashion-thesis" ? "" : every_metric_toml()),
                                 "preset " + name);
  }
  if (name == "fashion-halving" || name == "fashion-blocks" || name == "fashion-pareto") {
    require(weights.empty() && imagenet.empty() && model.empty() && normalize.empty(),
            "--preset " + name + " runs on the embedded fashion-vgg: drop --model / --weights "
            "/ --imagenet / --normalize");
    const std::string family =
        name == "fashion-halving" ? R"TOML(
[[family]]
name = "tutorial"
values = "log(-4,0,15)+0"
)TOML"
                                  : R"TOML(
[[family]]
name = "blocks"
template = "0:zbox;1-4:gamma({g1});5-9:gamma({g2});10-14:gamma({g3});15-:epsilon({e})"
[family.params]
g1 = "log0(-4,0)"
g2 = "log0(-4,0)"
g3 = "log0(-4,0)"
e = "log0(-4,0)"
)TOML";
    const std::string strategy = name == "fashion-halving" ? R"TOML(
[search]
objective = "pf-morf"
strategy = "halving"
eta = 3
min_images = 2
)TOML"
                                 : name == "fashion-blocks" ? R"TOML(
[search]
objective = "pf-morf"
strategy = "cmaes"
generations = 30
)TOML"
                                                            : R"TOML(
[metrics]
list = ["pf-morf", "sparseness"]
[search]
objectives = ["pf-morf", "sparseness"]
strategy = "nsga2"
population = 16
generations = 20
)TOML";
    return parse_experiment_text(R"TOML(
[model]
name = "fashion-vgg"
[data]
dataset = "fashion-mnist"
split = "test"
class = 9
count = 50
holdout = 25
target = "auto"
)TOML" + family + R"TOML(
[reference]
points = ["tutorial(0.25,0.25)", "decreasing-gamma", "zero"]
[pf]
orders = ["morf"]
mode = "telea"
radius = 3
patch = 2
schedule = "quadratic"
score = "logit"
[run]
seed = 0
batch = 64
[auc]
kind = "auc"
)TOML" + strategy,
                                 "preset " + name);
  }
  // Transformers: cp-lrp and attnlrp over (gc, gl), 16 x 16 each (gc up to 100 as in LXT's
  // grid), with LXT's 15 points (conv gamma 0.1, 0.25, 100 x dense gamma 0, 0.01, 0.05, 0.1, 1;
  // cp-lrp's default among them) and attnlrp's default as reference points.
  const std::string vit_families = R"TOML(
[[family]]
name = "cp-lrp"
values1 = "log(-3,2,15)+0"
values2 = "log(-3,1,15)+0"
[[family]]
name = "attnlrp"
values1 = "log(-3,2,15)+0"
values2 = "log(-3,1,15)+0"
[reference]
points = ["attnlrp",
          "cp-lrp(0.1,0)", "cp-lrp(0.1,0.01)", "cp-lrp(0.1,0.05)", "cp-lrp(0.1,0.1)", "cp-lrp(0.1,1)",
          "cp-lrp(0.25,0)", "cp-lrp(0.25,0.01)", "cp-lrp", "cp-lrp(0.25,0.1)", "cp-lrp(0.25,1)",
          "cp-lrp(100,0)", "cp-lrp(100,0.01)", "cp-lrp(100,0.05)", "cp-lrp(100,0.1)", "cp-lrp(100,1)"]
[run]
seed = 0
batch = 64
[auc]
kind = "auc"
)TOML";
  if (name == "fashion-vit-gamma") {
    require(weights.empty() && imagenet.empty() && (model.empty() || model == "fashion-vit") &&
                normalize.empty(),
            "--preset fashion-vit-gamma runs on the embedded fashion-vit: drop --model / "
            "--weights / --imagenet / --normalize");
    return parse_experiment_text("\n[model]\nname = \"fashion-vit\"" +
                                     std::string(kFashionThesisData) + vit_families,
                                 "preset fashion-vit-gamma");
  }
  if (name == "vit-imagenet-gamma")
    return parse_experiment_text(imagenet_thesis_model_and_data(name, "vit_b_16", "ViT-B/16", weights,
                                                                imagenet, model, normalize) +
                                     vit_families,
                                 "preset vit-imagenet-gamma");
  if (name == "vgg16-thesis")
    return parse_experiment_text(imagenet_thesis_model_and_data(name, "vgg16", "VGG-16", weights,
                                                                imagenet, model, normalize) +
                                     families,
                                 "preset vgg16-thesis");
  std::string known;
  for (const auto& n : experiment_preset_names()) known += (known.empty() ? "" : ", ") + n;
  throw InputError("--preset: unknown preset '" + name + "' (" + known + ")");
}

namespace {

void add_json(toml::array& a, const nlohmann::json& v);

// Adds `v` under `key` as the TOML value it spells (null: nothing).
void add_json(toml::table& t, const std::string& key, const nlohmann::json& v) {
  using T = nlohmann::json::value_t;
  switch (v.type()) {
    case T::string: t.insert_or_assign(key, v.get<std::string>()); break;
    case T::boolean: t.insert_or_assign(key, v.get<bool>()); break;
    case T::number_integer: t.insert_or_assign(key, v.get<int64_t>()); break;
    case T::number_unsigned:  // beyond int64: a float, which an integer key refuses
      if (v.get<uint64_t>() <= static_cast<uint64_t>(INT64_MAX))
        t.insert_or_assign(key, v.get<int64_t>());
      else
        t.insert_or_assign(key, v.get<double>());
      break;
    case T::number_float: t.insert_or_assign(key, v.get<double>()); break;
    case T::array: {
      toml::array a;
      for (const auto& e : v) add_json(a, e);
      t.insert_or_assign(key, std::move(a));
      break;
    }
    case T::object: {
      toml::table sub;
      for (const auto& [k, e] : v.items()) add_json(sub, k, e);
      t.insert_or_assign(key, std::move(sub));
      break;
    }
    default: break;
  }
}

void add_json(toml::array& a, const nlohmann::json& v) {
  toml::table one;
  add_json(one, "v", v);
  if (toml::node* n = one.get("v")) {
    if (n->is_table()) a.push_back(std::move(*n->as_table()));
    else if (n->is_array()) a.push_back(std::move(*n->as_array()));
    else if (n->is_string()) a.push_back(*n->value<std::string>());
    else if (n->is_integer()) a.push_back(*n->value<int64_t>());
    else if (n->is_floating_point()) a.push_back(*n->value<double>());
    else if (n->is_boolean()) a.push_back(*n->value<bool>());
  }
}

// The keys run_definition adds to an experiment's definition (runner.cpp), with their checks.
void check_run_keys(const nlohmann::json& d) {
  auto fail = [](const std::string& key, const std::string& what) {
    throw InputError("key '" + key + "': " + what);
  };
  if (d.contains("device")) {
    const nlohmann::json& v = d["device"];
    if (!v.is_string() || (v != "cpu" && v.get<std::string>().rfind("cuda", 0) != 0))
      fail("device", "expected cpu or cuda");
  }
  if (d.contains("threads") && (!d["threads"].is_number_integer() || d["threads"] < 1 ||
                                d["threads"] > kMaxThreads))
    fail("threads", "expected 1 to " + std::to_string(kMaxThreads));
  if (d.contains("lrpbench") && !d["lrpbench"].is_string()) fail("lrpbench", "expected a version");
  if (d.contains("rules") && (!d["rules"].is_number_integer() || d["rules"] < 1))
    fail("rules", "expected a version number");
  for (const char* key : {"model_sha256", "weights_sha256"})
    if (d.contains(key) &&
        (!d[key].is_string() || d[key].get<std::string>().size() != 64 ||
         d[key].get<std::string>().find_first_not_of("0123456789abcdef") != std::string::npos))
      fail(key, "expected a SHA-256 in hex");
}

// How deep `d` nests (a scalar: 0), without recursion: a definition is at most 5 deep, and a
// tampered one thousands of levels deep must not exhaust the stack of a recursive reader.
int json_depth(const nlohmann::json& d) {
  int deepest = 0;
  std::vector<std::pair<const nlohmann::json*, int>> todo = {{&d, 0}};
  while (!todo.empty()) {
    const auto [v, depth] = todo.back();
    todo.pop_back();
    deepest = std::max(deepest, depth);
    if (v->is_structured())
      for (const auto& e : *v) todo.push_back({&e, depth + 1});
  }
  return deepest;
}

// The TOML experiment a stored definition (Experiment::definition()) was read from, up to
// defaults: each key where the experiment reader reads it.
toml::table definition_toml(const nlohmann::json& d) {
  toml::table root;
  auto section = [&](const char* name) -> toml::table& {
    root.insert_or_assign(name, toml::table{});
    return *root.get_as<toml::table>(name);
  };
  const std::string model = d.at("model");
  toml::table& m = section("model");
  m.insert_or_assign(model.find('/') != std::string::npos ? "file" : "name", model);
  if (!d.at("weights").get<std::string>().empty()) add_json(m, "weights", d["weights"]);
  if (d.contains("normalize")) add_json(m, "normalize", d["normalize"]);

  nlohmann::json data = d.at("data");
  if (data.contains("class") && data["class"] == -1) data.erase("class");
  for (const char* key : {"dataset", "split", "imagenet", "folder", "labels", "boxes", "target"})
    if (data.contains(key) && data[key] == "") data.erase(key);  // written for "not given"
  add_json(root, "data", data);

  toml::array families;
  for (const auto& f : d.at("families")) {
    nlohmann::json t = f;
    if (t.contains("params")) {  // [[name, declaration], ...] -> [family.params]
      nlohmann::json params = nlohmann::json::object();
      for (const auto& p : f.at("params")) params[p.at(0).get<std::string>()] = p.at(1);
      if (params.size() != f.at("params").size())
        throw InputError("key 'family.params': a parameter is declared twice");
      t["params"] = params;
    }
    add_json(families, t);
  }
  if (!families.empty()) root.insert_or_assign("family", std::move(families));
  add_json(section("reference"), "points", d.at("references"));

  nlohmann::json pf = d.at("pf");
  nlohmann::json run = {{"seed", pf.at("seed")}, {"batch", d.at("batch")}};
  pf.erase("seed");
  if (pf.value("patch", nlohmann::json(1)) == 0) pf.erase("patch");  // chosen from the images
  if (!d.contains("metrics")) pf["orders"] = d.at("orders");  // else the list's pf-* entries
  add_json(root, "pf", pf);
  add_json(root, "run", run);
  add_json(section("auc"), "kind", d.at("auc"));
  if (d.contains("metrics")) {
    nlohmann::json metrics = d["metrics"].at("options");
    metrics["list"] = d["metrics"].at("list");
    add_json(root, "metrics", metrics);
  }
  nlohmann::json search = d.value("search", nlohmann::json::object());
  if (search.value("budget", nlohmann::json(1)) == 0) search.erase("budget");
  if (search.value("population", nlohmann::json(1)) == 0) search.erase("population");
  if (!search.contains("budget") && search.value("sampler", nlohmann::json()) == "random")
    search.erase("sampler");
  for (const char* key : {"objective", "objectives"})
    if (d.contains(key)) search[key] = d[key];
  if (!search.empty()) add_json(root, "search", search);
  return root;
}

}  // namespace

Experiment experiment_from_definition(const nlohmann::json& d, const std::string& source) {
  // Read back through the experiment reader: a stored definition passes the checks and bounds
  // of an experiment file, and must be what that experiment's definition() writes.
  const std::string self = "definition";
  try {
    if (!d.is_object()) throw InputError("not a JSON object");
    if (json_depth(d) > 8) throw InputError("it nests deeper than any definition");
    check_run_keys(d);
    Experiment x = read_experiment(definition_toml(d), self);
    x.source = source;
    nlohmann::json expected = d;
    for (const char* key :
         {"device", "threads", "lrpbench", "rules", "model_sha256", "weights_sha256"})
      expected.erase(key);
    const nlohmann::json got = x.definition();
    if (got != expected) {
      std::string key;
      for (const auto& [k, v] : expected.items())
        if (key.empty() && (!got.contains(k) || got[k] != v)) key = k;
      for (const auto& [k, v] : got.items())
        if (key.empty() && !expected.contains(k)) key = k;
      throw InputError("key '" + key + "' does not read back as stored");
    }
    return x;
  } catch (const nlohmann::json::exception& e) {
    throw InputError(source + ": corrupt run definition (" + std::string(e.what()) + ")");
  } catch (const RefusedExperiment& e) {
    std::string why = e.what();
    if (why.rfind(self + ": ", 0) == 0) why = why.substr(self.size() + 2);
    throw InputError(source + ": " + kRefusedDefinition + " (" + why + ")");
  } catch (const InputError& e) {
    std::string why = e.what();
    if (why.rfind(self + ": ", 0) == 0) why = why.substr(self.size() + 2);
    throw InputError(source + ": corrupt run definition (" + why + ")");
  }
}

}  // namespace lrpbench
