#include "report/report.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "data/image.h"
#include "lrp/composite.h"
#include "lrp/engine.h"
#include "lrp/rule.h"
#include "perturbation/auc.h"
#include "perturbation/curves.h"
#include "perturbation/metric.h"
#include "report/agreement.h"
#include "report/gallery.h"
#include "report/gnuplot.h"
#include "report/heatmap.h"
#include "report/montage.h"
#include "search/experiment.h"
#include "search/runner.h"
#include "search/store.h"
#include "search/stored_run.h"
#include "search/winners.h"
#include "util/error.h"
#include "util/file.h"

namespace lrpbench {
namespace {

namespace fs = std::filesystem;

std::string csv(const std::string& s) {
  if (s.find_first_of(",\"\r\n") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

std::string html(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '<')
      out += "&lt;";
    else if (c == '>')
      out += "&gt;";
    else if (c == '&')
      out += "&amp;";
    else
      out += c;
  }
  return out;
}

std::string image_label(const std::string& stored) {
  // Dataset indices are stored as numbers, file names as JSON strings.
  const nlohmann::json j = nlohmann::json::parse(stored, nullptr, false);
  return j.is_string() ? j.get<std::string>() : stored;
}

std::string fmt(double v, int precision = 4) {
  std::ostringstream ss;
  ss.precision(precision);
  ss << v;
  return ss.str();
}

struct Stats {
  double mean = 0, std = 0;
  int64_t n = 0;
};

Stats stats_of(const std::vector<double>& v) {
  Stats s;
  s.n = static_cast<int64_t>(v.size());
  if (v.empty()) return s;
  for (double x : v) s.mean += x;
  s.mean /= static_cast<double>(v.size());
  for (double x : v) s.std += (x - s.mean) * (x - s.mean);
  s.std = std::sqrt(s.std / static_cast<double>(v.size()));  // population
  return s;
}

// The metric of a PF order ("morf" -> "pf-morf"); other names are metrics already.
std::string metric_of(const std::string& order_or_metric) {
  for (Order o : {Order::Morf, Order::Lrf, Order::Random})
    if (order_or_metric == order_name(o)) return "pf-" + order_or_metric;
  return order_or_metric;
}

// +1 when higher is better, -1 when lower is, 0 for none (the random order, a control).
// For pf-*: lower auc / auc_normalized is better under MoRF, higher under LRF; aopc reverses.
int better_sign(const std::string& order_or_metric, const std::string& kind) {
  const Better b = metric_better(find_metric_info(metric_of(order_or_metric)), kind);
  return b == Better::Higher ? 1 : b == Better::Lower ? -1 : 0;
}

std::string direction_text(const std::string& order_or_metric, const std::string& kind) {
  const int s = better_sign(order_or_metric, kind);
  if (s == 0)
    return order_or_metric == "random" || order_or_metric == "pf-random"
               ? "random order: a control, expected flat (no better direction)"
               : "no better direction";
  return std::string(s < 0 ? "lower" : "higher") + " is better";
}

struct Run {
  Experiment exp;
  std::vector<ConfigRow> configs;
  std::vector<ImageRow> images;
  std::vector<CurveRow> curves;
  std::vector<MetricRow> metric_rows;  // metrics beside the curves
  std::vector<std::string> metrics;    // every metric of the run, in list order (pf-* too)
  // values[(config, order or metric)] = per-image values (NaN: undefined); orders carry the
  // chosen AUC kind and are also found under their metric name pf-<order>.
  std::map<std::pair<int64_t, std::string>, std::vector<double>> values;
  std::map<std::pair<int64_t, std::string>, std::vector<double>> mean_curve;
  // The same on the held-out images ([data] holdout), keyed by metric name only.
  std::map<std::pair<int64_t, std::string>, std::vector<double>> held;
  int64_t search_images = 0;  // images 0 .. search_images-1 are the search's
  ParetoFronts fronts;        // nsga2: each family's Pareto points
  // CMA-ES, NSGA-II: per configuration, the first of its canonical form, whose values a
  // configuration drawn again reuses (empty for other strategies).
  std::vector<int64_t> same;
  bool reused(const ConfigRow& cf) const {
    return !same.empty() && same[static_cast<size_t>(cf.id)] != cf.id;
  }
  const ParetoFronts* fronts_or_null() const {
    return exp.search.strategy == Strategy::Nsga2 ? &fronts : nullptr;
  }
  double value_of(const CurveRow& c) const {
    return curve_value({c.auc, c.aopc, c.auc_normalized}, exp.auc_kind).value_or(NAN);
  }
  const std::vector<double>* find_held(int64_t config, const std::string& metric) const {
    auto it = held.find({config, metric});
    return it == held.end() ? nullptr : &it->second;
  }
  const std::vector<double>* find(int64_t config, const std::string& order_or_metric) const {
    auto it = values.find({config, order_or_metric});
    return it == values.end() ? nullptr : &it->second;
  }
};

nlohmann::json opt_number(const std::optional<double>& v) {
  return v ? nlohmann::json(*v) : nlohmann::json();
}

// The mean over the defined values (nullopt: none).
std::optional<double> mean_of(const std::vector<double>* v) {
  if (!v) return std::nullopt;
  double sum = 0;
  int64_t n = 0;
  for (double x : *v)
    if (!std::isnan(x)) {
      sum += x;
      ++n;
    }
  return n ? std::optional<double>(sum / static_cast<double>(n)) : std::nullopt;
}

// Whether a family's configurations form a grid over two axes (grid CSVs and contour plots).
bool two_axis_grid(const Run& r, const Family& f) {
  return r.exp.search.strategy == Strategy::Grid && f.params.size() == 2 && f.discrete();
}

// The family's parameters of a configuration as a JSON object in parameter order ({} for
// reference points), numbers as std::to_chars writes them.
std::string params_json(const Run& r, const ConfigRow& cf) {
  const Family* fam = nullptr;
  for (const Family& f : r.exp.families)
    if (f.name == cf.family) fam = &f;
  if (cf.point == "reference" || !fam || fam->params.size() != cf.params.size()) return "{}";
  std::string out = "{";
  for (size_t k = 0; k < cf.params.size(); ++k)
    out += (k ? "," : "") + nlohmann::json(fam->params[k].name).dump() + ":" +
           format_number(cf.params[k]);
  return out + "}";
}

// "name=value, ..." of a configuration's parameters.
std::string params_text(const Family& f, const ConfigRow& cf) {
  std::string out;
  for (size_t k = 0; k < cf.params.size() && k < f.params.size(); ++k)
    out += (k ? ", " : "") + f.params[k].name + "=" + fmt(cf.params[k]);
  return out;
}

// RUN/metrics.csv: every (configuration, image, metric) value, pf-* from the curves.
void write_metrics_csv(const std::string& dir, const Run& r) {
  std::map<std::string, size_t> position;
  for (size_t m = 0; m < r.metrics.size(); ++m) position[r.metrics[m]] = m;
  struct Row {
    int64_t config, image;
    size_t metric;
    double value;
  };
  std::vector<Row> rows;
  for (const CurveRow& c : r.curves) {
    const auto it = position.find("pf-" + c.order);
    if (it != position.end()) rows.push_back({c.config_id, c.image_id, it->second, r.value_of(c)});
  }
  for (const MetricRow& m : r.metric_rows) {
    const auto it = position.find(m.metric);
    if (it != position.end())
      rows.push_back({m.config_id, m.image_id, it->second, m.value.value_or(NAN)});
  }
  std::sort(rows.begin(), rows.end(), [](const Row& a, const Row& b) {
    return std::tie(a.config, a.image, a.metric) < std::tie(b.config, b.image, b.metric);
  });
  std::ostringstream out;
  out << "family,point,config,params_json,image,metric,value\n";
  for (const Row& row : rows) {
    const ConfigRow& cf = r.configs[static_cast<size_t>(row.config)];
    out << csv(cf.family) << "," << cf.point << "," << csv(cf.config) << ","
        << csv(params_json(r, cf)) << ","
        << csv(image_label(r.images[static_cast<size_t>(row.image)].image)) << ","
        << r.metrics[row.metric] << ","
        << (std::isnan(row.value) ? std::string() : format_number(row.value)) << "\n";
  }
  write_file_atomic(dir + "/metrics.csv", out.str());
}

// The halving rung a configuration scored on `images` search images reached (0 otherwise).
int64_t rung_of(const Run& r, int64_t images) {
  if (r.exp.search.strategy != Strategy::Halving) return 0;
  const auto rungs =
      halving_rungs(r.search_images, r.exp.search.min_images, r.exp.search.eta);
  int64_t k = 0;
  for (size_t i = 0; i < rungs.size(); ++i)
    if (rungs[i] <= images) k = static_cast<int64_t>(i);
  return k;
}

// Halving: per rung, its images and the configurations it scored.
void rung_section(std::ostream& h, const Run& r) {
  if (r.exp.search.strategy != Strategy::Halving) return;
  const std::string objective = r.exp.objective_name();
  const auto rungs = halving_rungs(r.search_images, r.exp.search.min_images, r.exp.search.eta);
  h << "<h2>Successive halving</h2><p>eta " << r.exp.search.eta << ", rung 0 on "
    << r.exp.search.min_images << " images; each rung keeps the best ceil(n / eta) by "
    << html(objective) << ".</p><table><tr><th>family</th><th>rung</th><th>images</th>"
       "<th>configurations</th><th>best mean so far</th></tr>\n";
  const int sign = better_sign(objective, r.exp.auc_kind);
  for (const Family& f : r.exp.families)
    for (size_t k = 0; k < rungs.size(); ++k) {
      int64_t n = 0;
      std::optional<double> best;
      for (const ConfigRow& cf : r.configs) {
        if (cf.family != f.name || cf.point == "reference") continue;
        const std::vector<double>* v = r.find(cf.id, objective);
        if (!v || static_cast<int64_t>(v->size()) < rungs[k]) continue;
        ++n;
        std::vector<double> first(v->begin(), v->begin() + rungs[k]);
        const auto m = mean_of(&first);
        if (m && (!best || sign * *m > sign * *best)) best = m;
      }
      h << "<tr><td>" << html(f.name) << "</td><td>" << k << "</td><td>" << rungs[k]
        << "</td><td>" << n << "</td><td>" << (best ? fmt(*best, 6) : std::string("-"))
        << "</td></tr>\n";
    }
  h << "</table>\n";
}

// A family's configurations (grid points or trials, not reference points), in id order.
std::vector<const ConfigRow*> family_configs(const Run& r, const Family& f) {
  std::vector<const ConfigRow*> out;
  for (const ConfigRow& cf : r.configs)
    if (cf.family == f.name && cf.point != "reference") out.push_back(&cf);
  return out;
}

// Adaptive and sampled strategies: the best objective mean so far (among configurations scored
// on every search image) against the PF curves computed, per family, in the order the
// strategy computed them (configuration ids; halving: rung by rung).
void convergence_section(std::ostream& h, const Run& r, const std::string& rep) {
  if (r.exp.search.strategy == Strategy::Grid) return;
  const std::string objective = r.exp.objective_name();
  const int sign = better_sign(objective, r.exp.auc_kind);
  const double per_image = static_cast<double>(std::max<size_t>(1, r.exp.orders.size()));
  std::vector<Series> series;
  for (const Family& f : r.exp.families) {
    Series s{f.name, {}, {}, "linespoints", {}};
    double curves = 0;
    std::optional<double> best;
    const std::vector<const ConfigRow*> configs = family_configs(r, f);
    if (r.exp.search.strategy == Strategy::Halving) {
      const auto rungs =
          halving_rungs(r.search_images, r.exp.search.min_images, r.exp.search.eta);
      for (size_t k = 0; k < rungs.size(); ++k) {
        const int64_t from = k ? rungs[k - 1] : 0;
        std::optional<double> rung_best;
        for (const ConfigRow* cf : configs) {
          const std::vector<double>* v = r.find(cf->id, objective);
          if (!v || static_cast<int64_t>(v->size()) < rungs[k]) continue;
          curves += static_cast<double>(rungs[k] - from) * per_image;
          const std::vector<double> first(v->begin(), v->begin() + rungs[k]);
          const auto m = mean_of(&first);
          if (m && (!rung_best || sign * *m > sign * *rung_best)) rung_best = m;
        }
        if (!rung_best) continue;
        s.x.push_back(curves);
        s.y.push_back(*rung_best);
      }
    } else {
      for (const ConfigRow* cf : configs) {
        const std::vector<double>* v = r.find(cf->id, objective);
        if (!v) continue;
        if (!r.reused(*cf)) curves += static_cast<double>(v->size()) * per_image;
        const auto m = mean_of(v);
        if (m && static_cast<int64_t>(v->size()) == r.search_images &&
            (!best || sign * *m > sign * *best))
          best = m;
        if (!best) continue;
        s.x.push_back(curves);
        s.y.push_back(*best);
      }
    }
    if (!s.x.empty()) series.push_back(s);
  }
  if (series.empty()) return;
  line_plot(rep + "/convergence.png",
            "best " + objective + " so far (" + direction_text(objective, r.exp.auc_kind) + ")",
            "PF curves computed", "mean " + objective + " over the search images", series);
  h << "<h2>Convergence</h2><p>The best objective mean so far against the curves computed"
    << (r.exp.search.strategy == Strategy::Halving ? " (halving: the best of each rung over its images)"
                                           : "")
    << ".</p><img src='convergence.png' width='640'>\n";
}

// NSGA-II: every trial and the Pareto front under the first two objectives (means over the
// search images), with the reference points; the table of the Pareto points.
void pareto_section(std::ostream& h, const Run& r, const std::string& rep) {
  if (r.exp.search.strategy != Strategy::Nsga2 || r.exp.objectives.size() < 2) return;
  const std::string& o1 = r.exp.objectives[0];
  const std::string& o2 = r.exp.objectives[1];
  auto point = [&](const ConfigRow& cf) -> std::optional<std::pair<double, double>> {
    const auto a = mean_of(r.find(cf.id, o1)), b = mean_of(r.find(cf.id, o2));
    if (!a || !b) return std::nullopt;
    return std::make_pair(*a, *b);
  };
  std::vector<Series> series;
  Series trials{"trials", {}, {}, "points", {}};
  for (const ConfigRow& cf : r.configs)
    if (cf.point == "trial")
      if (const auto p = point(cf)) {
        trials.x.push_back(p->first);
        trials.y.push_back(p->second);
      }
  series.push_back(trials);
  for (const auto& [family, ids] : r.fronts) {
    std::vector<std::pair<double, double>> pts;
    for (int64_t id : ids)
      if (const auto p = point(r.configs[static_cast<size_t>(id)])) pts.push_back(*p);
    std::sort(pts.begin(), pts.end());
    Series front{family + " Pareto front", {}, {}, "linespoints", {}};
    for (const auto& [x, y] : pts) {
      front.x.push_back(x);
      front.y.push_back(y);
    }
    if (!front.x.empty()) series.push_back(front);
  }
  for (const ConfigRow& cf : r.configs)
    if (cf.point == "reference")
      if (const auto p = point(cf)) series.push_back({cf.spec, {p->first}, {p->second}, "points", {}});
  if (series.front().x.empty()) return;
  line_plot(rep + "/pareto.png", "NSGA-II: " + o1 + " against " + o2,
            o1 + " (" + direction_text(o1, r.exp.auc_kind) + ")",
            o2 + " (" + direction_text(o2, r.exp.auc_kind) + ")", series);
  h << "<h2>Pareto front</h2><p>Every trial's means over the search images under the first two "
       "objectives; the front is rank 0 of the last population (one configuration per "
       "canonical form).</p><img src='pareto.png' width='640'>\n<table><tr><th>family</th>"
       "<th>config</th><th>parameters</th>";
  for (const std::string& o : r.exp.objectives) h << "<th>" << html(o) << "</th>";
  h << "</tr>\n";
  for (const auto& [family, ids] : r.fronts)
    for (int64_t id : ids) {
      const ConfigRow& cf = r.configs[static_cast<size_t>(id)];
      h << "<tr><td>" << html(family) << "</td><td><code>" << html(cf.config)
        << "</code></td><td><code>" << html(params_json(r, cf)) << "</code></td>";
      for (const std::string& o : r.exp.objectives) {
        const auto m = mean_of(r.find(cf.id, o));
        h << "<td>" << (m ? fmt(*m, 6) : std::string("-")) << "</td>";
      }
      h << "</tr>\n";
    }
  h << "</table>\n";
}

// CMA-ES: per family and parameter, the population's mean position (the internal coordinate
// scaled to [0, 1], ParamDecl::position) per generation, with its standard deviation as bars.
void cmaes_section(std::ostream& h, const Run& r, const std::string& rep) {
  if (r.exp.search.strategy != Strategy::Cmaes) return;
  bool any = false;
  for (size_t fi = 0; fi < r.exp.families.size(); ++fi) {
    const Family& f = r.exp.families[fi];
    std::vector<Series> series;
    for (size_t k = 0; k < f.params.size(); ++k) {
      std::map<int64_t, std::vector<double>> by_generation;
      for (const ConfigRow* cf : family_configs(r, f))
        if (k < cf->params.size())
          by_generation[cf->round].push_back(f.params[k].position(cf->params[k]));
      Series s{f.params[k].name, {}, {}, "yerrorlines", {}};
      for (const auto& [g, v] : by_generation) {
        const Stats st = stats_of(v);
        s.x.push_back(static_cast<double>(g));
        s.y.push_back(st.mean);
        s.err.push_back(st.std);
      }
      if (!s.x.empty()) series.push_back(s);
    }
    if (series.empty()) continue;
    const std::string png = "cmaes_" + std::to_string(fi) + ".png";
    line_plot(rep + "/" + png, "CMA-ES population per generation: " + f.name, "generation",
              "position in the parameter's range (0 = lower end)", series,
              PlotOptions{{}, -0.2, 1.2});
    if (!any)
      h << "<h2>CMA-ES trajectories</h2><p>Per generation, the population's mean position of "
           "each parameter in its range (the internal coordinate: log10 of the value for log "
           "and log0, log0's zero at the lower end), with the population's standard deviation "
           "as bars.</p>\n";
    any = true;
    h << "<img src='" << png << "' width='640'>\n";
  }
}

// Families that are not two-axis grids: the ten best configurations under the objective
// (among those scored on the most search images) in parallel coordinates.
void parallel_section(std::ostream& h, const Run& r, const std::string& rep);

// The means of every objective over the search images, in objective order ("" where
// undefined), joined by ';' (trials.csv).
std::string objective_values(const Run& r, const ConfigRow& cf) {
  std::string out;
  const std::vector<std::string> names = r.exp.objective_names();
  for (size_t k = 0; k < names.size(); ++k) {
    const std::optional<double> m = mean_of(r.find(cf.id, names[k]));
    out += (k ? ";" : "") + (m ? format_number(*m) : std::string());
  }
  return out;
}

// RUN/trials.csv: every configuration of a family with its objective means.
void write_trials(const std::string& dir, const Run& r) {
  std::ostringstream t;
  t << "family,config,params_json,rung_or_generation,images,objective_values\n";
  for (const ConfigRow& cf : r.configs) {
    if (cf.point == "reference") continue;
    const std::vector<double>* v = r.find(cf.id, r.exp.objective_name());
    const int64_t images = v ? static_cast<int64_t>(v->size()) : 0;
    t << csv(cf.family) << "," << csv(cf.config) << "," << csv(params_json(r, cf)) << ","
      << (r.exp.search.evolves() ? cf.round : rung_of(r, images)) << "," << images << ","
      << csv(objective_values(r, cf)) << "\n";
  }
  write_file_atomic(dir + "/trials.csv", t.str());
}

// A chosen configuration in search.json: its parameters and objective values on the search
// and held-out images (nsga2 adds every objective's values).
nlohmann::json choice_json(const Run& r, const ConfigRow& cf) {
  const std::string objective = r.exp.objective_name();
  nlohmann::json j = {{"family", cf.family},
                      {"config", cf.config},
                      {"params", nlohmann::json::parse(params_json(r, cf))},
                      {"search_value", opt_number(mean_of(r.find(cf.id, objective)))},
                      {"holdout_value", opt_number(mean_of(r.find_held(cf.id, objective)))}};
  if (!r.exp.objectives.empty()) {
    j["search_values"] = nlohmann::json::array();
    j["holdout_values"] = nlohmann::json::array();
    for (const std::string& o : r.exp.objectives) {
      j["search_values"].push_back(opt_number(mean_of(r.find(cf.id, o))));
      j["holdout_values"].push_back(opt_number(mean_of(r.find_held(cf.id, o))));
    }
  }
  return j;
}

// The experiment's winner: the best family winner under the objective (nullptr: none yet).
const ConfigRow* experiment_winner(const Run& r) {
  const int sign = better_sign(r.exp.objective_name(), r.exp.auc_kind);
  const ConfigRow* winner = nullptr;
  double best = 0;
  for (const Winner& w : family_winners(r.exp, r.configs, r.search_images, r.curves,
                                        r.metric_rows, r.fronts_or_null()))
    if (w.config >= 0 && (!winner || sign * w.value > sign * best)) {
      winner = &r.configs[static_cast<size_t>(w.config)];
      best = w.value;
    }
  return winner;
}

// RUN/search.json (the strategy's cost, the winner, nsga2's Pareto points), docs/method.md
// section 4a.
void write_search_json(const std::string& dir, const Run& r) {
  int64_t curves = 0;
  std::set<std::pair<int64_t, int64_t>> pairs;
  // The strategy's own work: search images, not reference points or held-out scoring.
  for (const CurveRow& c : r.curves)
    if (r.configs[static_cast<size_t>(c.config_id)].point != "reference" &&
        c.image_id < r.search_images) {
      ++curves;
      pairs.insert({c.config_id, c.image_id});
    }
  for (const MetricRow& m : r.metric_rows)
    if (r.configs[static_cast<size_t>(m.config_id)].point != "reference" &&
        m.image_id < r.search_images)
      pairs.insert({m.config_id, m.image_id});
  nlohmann::json grid_curves = nullptr;
  bool discrete = true;
  uint64_t grid = 0;
  for (const Family& f : r.exp.families) {
    discrete = discrete && f.discrete();
    grid += f.grid_size();
  }
  if (discrete)
    grid_curves = static_cast<int64_t>(grid * static_cast<uint64_t>(r.search_images) *
                                       r.exp.orders.size());
  nlohmann::json j = {{"strategy", strategy_name(r.exp.search.strategy)}};
  if (r.exp.objectives.empty())
    j["objective"] = r.exp.objective_name();
  else
    j["objectives"] = r.exp.objectives;
  j["evaluations"] = static_cast<int64_t>(pairs.size());
  j["curves"] = curves;
  j["grid_curves"] = grid_curves;
  const ConfigRow* winner = experiment_winner(r);
  j["winner"] = winner ? choice_json(r, *winner) : nlohmann::json();
  if (r.exp.search.strategy == Strategy::Nsga2) {
    j["pareto"] = nlohmann::json::array();
    for (const auto& [family, ids] : r.fronts)
      for (int64_t id : ids) j["pareto"].push_back(choice_json(r, r.configs[static_cast<size_t>(id)]));
  }
  write_file_atomic(dir + "/search.json", j.dump(2) + "\n");
}

void write_csvs(const std::string& dir, const Run& r) {
  std::ostringstream a;
  a.precision(17);
  a << "family,point,config,param1,param2,image,order,auc\n";
  for (const CurveRow& c : r.curves) {
    const ConfigRow& cf = r.configs[static_cast<size_t>(c.config_id)];
    const double v = r.value_of(c);
    a << csv(cf.family) << "," << cf.point << "," << csv(cf.config) << ","
      << (cf.i1 >= 0 ? format_number(cf.param1) : "") << ","
      << (cf.i1 >= 0 ? format_number(cf.param2) : "") << ","
      << csv(image_label(r.images[static_cast<size_t>(c.image_id)].image)) << "," << c.order << ","
      << (std::isnan(v) ? std::string() : format_number(v)) << "\n";
  }
  write_file_atomic(dir + "/aucs.csv", a.str());
  write_metrics_csv(dir, r);
  write_trials(dir, r);
  write_search_json(dir, r);
  for (const Family& f : r.exp.families)
    for (Order o : r.exp.orders) {
      if (!two_axis_grid(r, f)) continue;
      std::ostringstream g;
      g.precision(17);
      g << "param1,param2,mean_auc,std_auc,n\n";
      for (const ConfigRow& cf : r.configs) {
        if (cf.family != f.name || cf.point != "grid") continue;
        auto it = r.values.find({cf.id, order_name(o)});
        std::vector<double> v;
        if (it != r.values.end())
          for (double x : it->second)
            if (!std::isnan(x)) v.push_back(x);
        const Stats s = stats_of(v);
        g << format_number(cf.param1) << "," << format_number(cf.param2) << ","
          << (s.n ? format_number(s.mean) : "") << "," << (s.n ? format_number(s.std) : "") << ","
          << s.n << "\n";
      }
      write_file_atomic(dir + "/grid_" + f.name + "_" + order_name(o) + ".csv", g.str());
    }
}

struct Best {
  const ConfigRow* config = nullptr;
  Stats stats;
};

// Configurations of a family ranked best first for an order or metric (stable: ties keep
// the earlier configuration first).
std::vector<Best> ranked(const Run& r, const Family& f, const std::string& order) {
  std::vector<Best> out;
  // Only configurations scored on as many images as the family's most scored ones (halving
  // stops the others early; a grid scores all of them on the same images).
  size_t most = 0;
  for (const ConfigRow& cf : r.configs)
    if (cf.family == f.name && cf.point != "reference")
      if (const std::vector<double>* v = r.find(cf.id, order)) most = std::max(most, v->size());
  for (const ConfigRow& cf : r.configs) {
    if (cf.family != f.name || cf.point == "reference") continue;
    const std::vector<double>* values = r.find(cf.id, order);
    if (!values || values->size() < most) continue;
    std::vector<double> v;
    for (double x : *values)
      if (!std::isnan(x)) v.push_back(x);
    if (!v.empty()) out.push_back({&cf, stats_of(v)});
  }
  const int s = better_sign(order, r.exp.auc_kind);
  std::stable_sort(out.begin(), out.end(), [&](const Best& a, const Best& b) {
    return s > 0 ? a.stats.mean > b.stats.mean : a.stats.mean < b.stats.mean;
  });
  return out;
}

void parallel_section(std::ostream& h, const Run& r, const std::string& rep) {
  const std::string objective = r.exp.objective_name();
  bool any = false;
  for (size_t fi = 0; fi < r.exp.families.size(); ++fi) {
    const Family& f = r.exp.families[fi];
    if (two_axis_grid(r, f) || f.params.empty()) continue;
    const std::vector<Best> best = ranked(r, f, objective);
    std::vector<Series> series;
    for (size_t i = 0; i < best.size() && i < 10; ++i) {
      Series s{"#" + std::to_string(i + 1) + " " + fmt(best[i].stats.mean), {}, {}, "linespoints",
               {}};
      for (size_t k = 0; k < f.params.size() && k < best[i].config->params.size(); ++k) {
        s.x.push_back(static_cast<double>(k + 1));
        s.y.push_back(f.params[k].position(best[i].config->params[k]));
      }
      series.push_back(s);
    }
    if (series.empty()) continue;
    const std::string png = "parallel_" + std::to_string(fi) + ".png";
    line_plot(rep + "/" + png, "the ten best of " + f.name + " by " + objective,
              "parameter", "position in the parameter's range (0 = lower end)", series,
              PlotOptions{f.param_names(), 0.0, 1.0});
    if (!any)
      h << "<h2>Parallel coordinates</h2><p>The ten best configurations of each family by "
        << html(objective) << " (" << direction_text(objective, r.exp.auc_kind)
        << "; the legend gives the mean over the search images), each parameter's value as its "
           "position in its declared range.</p>\n";
    any = true;
    h << "<img src='" << png << "' width='640'>\n";
  }
}

// A metric's values are means of the AUC kind for pf-*, of the metric's value otherwise.
std::string value_label(const Run& r, const std::string& metric) {
  return find_metric_info(metric).pf_order ? r.exp.auc_kind : std::string("value");
}

void contour_plot(const std::string& png, const Run& r, const Family& f, const std::string& order,
                  const Best* best) {
  const std::string data = png + ".dat";
  std::ostringstream d;
  d.precision(10);
  const std::vector<double> values1 = f.params[0].values(), values2 = f.params[1].values();
  for (size_t a = 0; a < values1.size(); ++a) {
    for (size_t b = 0; b < values2.size(); ++b) {
      double mean = NAN;
      for (const ConfigRow& cf : r.configs)
        if (cf.family == f.name && cf.point == "grid" && cf.i1 == static_cast<int64_t>(a) &&
            cf.i2 == static_cast<int64_t>(b)) {
          mean = mean_of(r.find(cf.id, order)).value_or(NAN);
        }
      d << a << " " << b << " " << (std::isnan(mean) ? std::string("NaN") : fmt(mean, 10)) << "\n";
    }
    d << "\n";
  }
  auto tics = [](const std::vector<double>& v) {
    std::string t = "(";
    const size_t step = std::max<size_t>(1, v.size() / 8);
    for (size_t i = 0; i < v.size(); i += step)
      t += (i ? ", " : "") + gnuplot_quote(fmt(v[i], 2)) + " " + std::to_string(i);
    return t + ")";
  };
  const auto axes = f.param_names();
  std::ostringstream g;
  g << "set terminal pngcairo size 760,620 enhanced font 'Sans,10'\n"
    << "set output @@OUTPUT@@\n"
    << "set title "
    << gnuplot_quote(f.name + ", " + order + ": mean " + value_label(r, metric_of(order)) + " (" +
                     direction_text(order, r.exp.auc_kind) + ")")
    << " noenhanced\n"
    << "set xlabel " << gnuplot_quote(axes[0]) << "\nset ylabel " << gnuplot_quote(axes[1]) << "\n"
    << "set xtics " << tics(values1) << "\nset ytics " << tics(values2) << "\n"
    << "set xrange [-0.5:" << values1.size() - 0.5
    << "]\nset yrange [-0.5:" << values2.size() - 0.5 << "]\n"
    << "set palette rgb 33,13,10\nset key off\n"
    // Contour lines: traced into a table by splot, then drawn over the cell image.
    << "set contour base\nset cntrparam levels 8\nunset surface\nset view map\n"
    << "set table " << gnuplot_quote(data + ".cont") << "\nsplot " << gnuplot_quote(data)
    << " using 1:2:3 with lines\nunset table\nunset contour\n";
  if (best)
    g << "set label 1 'optimum' at " << best->config->i1 << "," << best->config->i2
      << " point pt 7 ps 2 lc rgb 'white' offset 1,1 front tc rgb 'black'\n";
  g << "plot " << gnuplot_quote(data) << " using 1:2:3 with image, "
    << gnuplot_quote(data + ".cont") << " with lines lc rgb 'black' lw 1\n";
  render_gnuplot_png(png, g.str(), {{data, d.str()}});
  fs::remove(data + ".cont");
}

void box_plot(const std::string& png, const Run& r,
              const std::vector<std::pair<std::string, std::vector<double>>>& groups) {
  const std::string data = png + ".dat";
  std::ostringstream d;
  d.precision(10);
  for (size_t i = 0; i < groups.size(); ++i) {
    for (double v : groups[i].second)
      if (!std::isnan(v)) d << i << " " << v << "\n";
    d << "\n\n";
  }
  std::ostringstream g;
  g << "set terminal pngcairo size " << std::max<size_t>(640, 110 * groups.size())
    << ",520 enhanced font 'Sans,10'\n"
    << "set output @@OUTPUT@@\n"
    << "set title "
    << gnuplot_quote("distribution of " + r.exp.auc_kind +
                     " over configurations and images (whiskers: 1.5 IQR)")
    << " noenhanced\n"
    << "set style fill solid 0.3\nset style boxplot nooutliers\n"
    << "set key off\nset grid ytics\nset xtics rotate by -30 noenhanced\nset xtics (";
  for (size_t i = 0; i < groups.size(); ++i)
    g << (i ? ", " : "") << gnuplot_quote(groups[i].first) << " " << i;
  g << ")\nset xrange [-0.7:" << groups.size() - 0.3 << "]\nplot ";
  for (size_t i = 0; i < groups.size(); ++i)
    g << (i ? ", " : "") << gnuplot_quote(data) << " index " << i << " using (" << i
      << "):2 with boxplot";
  g << "\n";
  render_gnuplot_png(png, g.str(), {{data, d.str()}});
}

// Reads the run's store in one snapshot and gathers the values the report shows.
Run read_run(const std::string& run, ReportSummary& summary) {
  const std::string db = run + "/results.sqlite";
  require(fs::exists(db),
          "report: '" + run + "' has no results.sqlite (run lrpbench search first)");
  Run r;
  summary.in_progress = RunLock::held_elsewhere(run);
  {
    StoredRun stored = open_stored_run(
        db, Store::Mode::Read, "run the search again into another --out (or with --force)");
    const Store& store = *stored.store;
    r.exp = std::move(stored.exp);
    store.begin_snapshot();  // one consistent state, even while a search writes the run
    try {
      r.configs = store.configs();
      r.images = store.images();
      r.curves = store.curves();
      r.metric_rows = store.metric_values();
      if (const auto p = store.meta("pareto")) r.fronts = pareto_from_json(*p);
      summary.units = static_cast<int64_t>(store.units().size());
      summary.done = static_cast<int64_t>(store.done_units().size());
    } catch (...) {
      store.end_snapshot();
      throw;
    }
    store.end_snapshot();
  }
  require(summary.done > 0, "report: '" + run + "' has no finished work units yet" +
                                (summary.in_progress ? " (a search is writing it now)" : ""));
  r.metrics = r.exp.metric_names();
  r.search_images = static_cast<int64_t>(r.images.size()) - r.exp.data.holdout;
  std::map<std::pair<int64_t, std::string>, int64_t> counts;
  for (const CurveRow& c : r.curves) {
    if (c.image_id >= r.search_images) {
      r.held[{c.config_id, "pf-" + c.order}].push_back(r.value_of(c));
      continue;
    }
    const auto key = std::make_pair(c.config_id, c.order);
    r.values[key].push_back(r.value_of(c));
    auto& m = r.mean_curve[key];
    if (m.empty()) m.assign(c.scores.size(), 0.0);
    for (size_t k = 0; k < m.size() && k < c.scores.size(); ++k) m[k] += c.scores[k];
    ++counts[key];
  }
  for (auto& [key, m] : r.mean_curve)
    for (double& v : m) v /= static_cast<double>(counts[key]);
  std::map<std::pair<int64_t, std::string>, std::vector<double>> by_metric;
  for (const auto& [key, v] : r.values) by_metric[{key.first, "pf-" + key.second}] = v;
  for (const MetricRow& m : r.metric_rows)  // ordered by configuration, image, metric
    (m.image_id < r.search_images ? by_metric : r.held)[{m.config_id, m.metric}].push_back(
        m.value.value_or(NAN));
  r.values.insert(by_metric.begin(), by_metric.end());
  if (r.exp.search.evolves()) {  // a configuration drawn again shows its first draw's values
    r.same = first_same(r.configs);
    for (auto* table : {&r.values, &r.held, &r.mean_curve}) {
      std::vector<std::pair<std::pair<int64_t, std::string>, std::vector<double>>> copies;
      for (const ConfigRow& cf : r.configs)
        if (r.reused(cf))
          for (auto it = table->lower_bound({r.same[static_cast<size_t>(cf.id)], ""});
               it != table->end() && it->first.first == r.same[static_cast<size_t>(cf.id)]; ++it)
            copies.push_back({{cf.id, it->first.second}, it->second});
      table->insert(copies.begin(), copies.end());
    }
  }

  return r;
}

// Each family's optimum and worst configuration under the objective.
struct Choices {
  std::map<std::string, const ConfigRow*> optimum, worst;
};

// The table of the best configurations; returns each family's optimum and worst.
Choices best_section(std::ostream& h, const Run& r) {
  const std::string objective = r.exp.objective_name();
  h << "<h2>Best configurations</h2><p>The three best grid points per family and directed "
       "metric, then the reference points under every metric. The objective, <b>"
    << html(objective) << "</b> (" << direction_text(objective, r.exp.auc_kind)
    << "), picks each family's optimum.</p><table><tr><th>family</th><th>metric</th>"
       "<th>rank</th><th>params</th><th>config</th><th>mean</th><th>std over images</th>"
       "<th>n</th></tr>\n";
  Choices c;
  for (const Family& f : r.exp.families) {
    const auto rk = ranked(r, f, objective);
    if (rk.empty()) continue;
    c.optimum[f.name] = rk.front().config;
    c.worst[f.name] = rk.back().config;
  }
  for (const Family& f : r.exp.families)
    for (const std::string& m : r.metrics) {
      if (better_sign(m, r.exp.auc_kind) == 0) continue;  // a control: no direction to rank by
      const auto rk = ranked(r, f, m);
      for (size_t i = 0; i < std::min<size_t>(3, rk.size()); ++i)
        h << "<tr><td>" << f.name << "</td><td>" << html(m) << " (" << html(value_label(r, m))
          << ")</td><td>" << i + 1 << "</td><td>" << html(params_text(f, *rk[i].config))
          << "</td><td><code>" << html(rk[i].config->config)
          << "</code></td><td>" << fmt(rk[i].stats.mean, 6) << "</td><td>"
          << fmt(rk[i].stats.std, 4) << "</td><td>" << rk[i].stats.n << "</td></tr>\n";
    }
  for (const ConfigRow& cf : r.configs)
    if (cf.point == "reference")
      for (const std::string& m : r.metrics) {
        const std::vector<double>* v = r.find(cf.id, m);
        if (!v) continue;
        std::vector<double> defined;
        for (double x : *v)
          if (!std::isnan(x)) defined.push_back(x);
        const Stats st = stats_of(defined);
        h << "<tr><td>reference</td><td>" << html(m) << "</td><td></td><td>" << html(cf.spec)
          << "</td><td><code>" << html(cf.config) << "</code></td><td>"
          << (st.n ? fmt(st.mean, 6) : std::string("undefined")) << "</td><td>"
          << fmt(st.std, 4) << "</td><td>" << st.n << "</td></tr>\n";
      }
  h << "</table>\n";
  return c;
}

void contour_section(std::ostream& h, const Run& r, const std::string& rep) {
  // Contour plots: one per family and metric (PF orders under their order's name).
  h << "<h2>Means over the grid</h2><p>Per family and metric (PF orders: the mean "
    << html(r.exp.auc_kind) << "). Axes are evenly spaced by position (0, then log-spaced "
    << "values); each metric's optimum is marked.</p><div class='figs'>\n";
  for (const Family& f : r.exp.families)
    for (const std::string& m : r.metrics) {
      if (!two_axis_grid(r, f)) continue;
      const auto pf = find_metric_info(m).pf_order;
      const std::string key = pf ? order_name(*pf) : m;
      const auto rk = ranked(r, f, key);
      if (rk.empty()) continue;
      const std::string name = "contour_" + f.name + "_" + key + ".png";
      contour_plot(rep + "/" + name, r, f, key,
                   better_sign(key, r.exp.auc_kind) == 0 ? nullptr : &rk.front());
      h << "<img src='" << name << "' width='560'>\n";
    }
  h << "</div>\n";

}

void box_section(std::ostream& h, const Run& r, const std::string& rep) {
  // Box plots.
  std::vector<std::pair<std::string, std::vector<double>>> groups;
  for (const Family& f : r.exp.families)
    for (Order o : r.exp.orders) {
      std::vector<double> all;
      for (const ConfigRow& cf : r.configs)
        if (cf.family == f.name && cf.point != "reference") {
          auto it = r.values.find({cf.id, order_name(o)});
          if (it != r.values.end()) all.insert(all.end(), it->second.begin(), it->second.end());
        }
      if (!all.empty()) groups.push_back({f.name + " " + order_name(o), all});
    }
  if (!groups.empty()) {
    box_plot(rep + "/boxplot.png", r, groups);
    h << "<h2>Distribution of " << html(r.exp.auc_kind)
      << " per experiment</h2><img src='boxplot.png'>\n";
  }

}

void curves_section(std::ostream& h, const Run& r, const std::string& rep, const Choices& c) {
  const auto& optimum = c.optimum;
  // Mean perturbation curves.
  h << "<h2>Mean perturbation curves</h2><div class='figs'>\n";
  for (Order o : r.exp.orders) {
    std::vector<Series> series;
    auto add = [&](const ConfigRow* cf, const std::string& title) {
      auto it = r.mean_curve.find({cf->id, order_name(o)});
      if (it == r.mean_curve.end()) return;
      Series s{title, {}, it->second, "linespoints", {}};
      for (size_t k = 0; k < s.y.size(); ++k) s.x.push_back(static_cast<double>(k));
      series.push_back(s);
    };
    for (const auto& [fam, cf] : optimum) add(cf, fam + " optimum " + cf->spec);
    for (const ConfigRow& cf : r.configs)
      if (cf.point == "reference") add(&cf, cf.spec);
    if (series.empty()) continue;
    const std::string name = std::string("curves_") + order_name(o) + ".png";
    line_plot(rep + "/" + name, std::string("mean curves, ") + order_name(o), "step",
              "mean " + r.exp.pf.score + " of the target", series);
    h << "<img src='" << name << "' width='560'>\n";
  }
  h << "</div>\n";

}

// Held-out images: each family winner and reference point under the objective on the search
// images and on the held-out ones, and the difference (the optimism of the choice).
void holdout_section(std::ostream& h, const Run& r) {
  if (r.exp.data.holdout <= 0) return;
  const std::string objective = r.exp.objective_name();
  h << "<h2>Held-out images</h2><p>The search chose on images 1 to " << r.search_images
    << "; the last " << r.exp.data.holdout << " images were held out. Objective <b>"
    << html(objective) << "</b> (" << direction_text(objective, r.exp.auc_kind)
    << "); held-out minus search is how optimistic the choice on the search images was.</p>"
       "<table><tr><th>configuration</th><th>config</th><th>search images</th>"
       "<th>held-out images</th><th>held-out - search</th></tr>\n";
  auto row = [&](const std::string& title, const ConfigRow& cf) {
    const auto search = mean_of(r.find(cf.id, objective));
    const auto held = mean_of(r.find_held(cf.id, objective));
    h << "<tr><td>" << html(title) << "</td><td><code>" << html(cf.config) << "</code></td><td>"
      << (search ? fmt(*search, 6) : std::string("-")) << "</td><td>"
      << (held ? fmt(*held, 6) : std::string("not yet scored")) << "</td><td>"
      << (search && held ? fmt(*held - *search, 4) : std::string("-")) << "</td></tr>\n";
  };
  const auto winners = family_winners(r.exp, r.configs, r.search_images, r.curves,
                                      r.metric_rows, r.fronts_or_null());
  for (size_t f = 0; f < winners.size(); ++f)
    if (winners[f].config >= 0)
      row(r.exp.families[f].name + " winner", r.configs[static_cast<size_t>(winners[f].config)]);
  for (const auto& [family, ids] : r.fronts)
    for (size_t k = 0; k < ids.size(); ++k)
      row(family + " Pareto point " + std::to_string(k + 1), r.configs[static_cast<size_t>(ids[k])]);
  for (const ConfigRow& cf : r.configs)
    if (cf.point == "reference") row("reference " + cf.spec, cf);
  h << "</table>\n";
}

// A family's grid configurations (id order) under every metric of the run.
MetricTable family_table(const Run& r, const Family& f, std::vector<const ConfigRow*>* configs) {
  MetricTable t;
  *configs = family_configs(r, f);
  for (const std::string& m : r.metrics) {
    t.names.push_back(m);
    t.better.push_back(better_sign(m, r.exp.auc_kind));
    t.means.emplace_back();
    for (const ConfigRow* cf : *configs) t.means.back().push_back(mean_of(r.find(cf->id, m)));
  }
  return t;
}

// The Kendall tau-b matrix of a family's directed metrics as a figure.
void tau_figure(const std::string& png, const std::string& family, const MetricTable& t,
                const std::vector<PairAgreement>& pairs) {
  std::vector<size_t> directed;
  for (size_t m = 0; m < t.names.size(); ++m)
    if (t.better[m] != 0) directed.push_back(m);
  const size_t n = directed.size();
  std::vector<std::vector<double>> tau(n, std::vector<double>(n, NAN));
  for (size_t i = 0; i < n; ++i) tau[i][i] = 1;
  auto at_of = [&](size_t m) {
    return static_cast<size_t>(std::find(directed.begin(), directed.end(), m) - directed.begin());
  };
  for (const PairAgreement& p : pairs)
    if (p.tau_b) tau[at_of(p.a)][at_of(p.b)] = tau[at_of(p.b)][at_of(p.a)] = *p.tau_b;
  std::ostringstream d;
  for (size_t i = 0; i < n; ++i)
    for (size_t j = 0; j < n; ++j)
      d << j << " " << i << " " << (std::isnan(tau[i][j]) ? std::string("NaN") : fmt(tau[i][j], 6))
        << (j + 1 == n ? "\n\n" : "\n");
  std::string tics = "(";
  for (size_t i = 0; i < n; ++i) tics += (i ? ", " : "") + gnuplot_quote(t.names[directed[i]]) + " " + std::to_string(i);
  tics += ")";
  const size_t side = std::max<size_t>(520, 70 * n + 220);
  std::ostringstream g;
  g << "set terminal pngcairo size " << side << "," << side << " enhanced font 'Sans,10'\n"
    << "set output @@OUTPUT@@\n"
    << "set title " << gnuplot_quote(family + ": Kendall tau-b between the metrics' rankings")
    << " noenhanced\nset xtics " << tics << " rotate by -40 noenhanced\nset ytics " << tics
    << " noenhanced\nset xrange [-0.5:" << n - 0.5 << "]\nset yrange [" << n - 0.5
    << ":-0.5]\nset cbrange [-1:1]\nset palette defined (-1 'blue', 0 'white', 1 'red')\n"
    << "set key off\nset view map\nplot " << gnuplot_quote(png + ".dat")
    << " using 1:2:3 with image, '' using 1:2:(sprintf('%.2f', $3)) with labels\n";
  render_gnuplot_png(png, g.str(), {{png + ".dat", d.str()}});
}

// Per family: each metric's optimum with its value under every other metric, the consensus
// configuration and the Kendall tau-b matrix (figure, RUN/agreement.csv). Returns the
// configurations whose heatmaps the report shows side by side (title, configuration).
std::vector<std::pair<std::string, const ConfigRow*>> agreement_section(std::ostream& h,
                                                                       const Run& r,
                                                                       const std::string& run,
                                                                       const std::string& rep) {
  std::ostringstream csv_out;
  csv_out.precision(17);
  csv_out << "family,metric_a,metric_b,tau_b,n\n";
  std::vector<std::pair<std::string, const ConfigRow*>> shown;
  h << "<h2>How far the metrics agree</h2><p>Per family: the optimum of every metric (row) "
       "and its mean under every metric (column; undefined values are left out of means), the "
       "consensus (the best mean rank over the directed metrics), and Kendall's tau-b between "
       "the rankings of the configurations by their means (1: the same order, -1: reversed). "
       "Metrics without a better direction are left out of rankings. Files: "
       "<a href='../agreement.csv'>agreement.csv</a>, <a href='../metrics.csv'>metrics.csv</a>."
       "</p>\n";
  for (const Family& f : r.exp.families) {
    std::vector<const ConfigRow*> configs;
    const MetricTable t = family_table(r, f, &configs);
    if (configs.empty()) continue;
    const std::vector<PairAgreement> pairs = agreement_pairs(t);
    for (const PairAgreement& p : pairs)
      csv_out << csv(f.name) << "," << t.names[p.a] << "," << t.names[p.b] << ","
              << (p.tau_b ? format_number(*p.tau_b) : std::string()) << "," << p.n << "\n";
    h << "<h3>" << html(f.name) << "</h3><table><tr><th>optimum of</th><th>config</th>";
    for (const std::string& m : t.names)
      h << "<th>" << html(m) << "<br><small>" << direction_text(m, r.exp.auc_kind)
        << "</small></th>";
    h << "</tr>\n";
    auto row = [&](const std::string& title, size_t c) {
      h << "<tr><td>" << html(title) << "</td><td><code>" << html(configs[c]->config)
        << "</code></td>";
      for (size_t m = 0; m < t.names.size(); ++m)
        h << "<td>" << (t.means[m][c] ? fmt(*t.means[m][c], 5) : std::string("undefined"))
          << "</td>";
      h << "</tr>\n";
    };
    for (size_t m = 0; m < t.names.size(); ++m)
      if (const auto best = metric_optimum(t, m)) {
        row(t.names[m] + (t.names[m] == r.exp.objective_name() ? " (objective)" : ""), *best);
        shown.push_back({f.name + ": " + t.names[m], configs[*best]});
      }
    if (const auto cons = table_consensus(t)) {
      row("consensus (mean rank " + fmt(cons->mean_rank, 4) + ")", cons->config);
      shown.push_back({f.name + ": consensus", configs[cons->config]});
    }
    h << "</table>\n";
    if (!pairs.empty()) {
      const std::string name = "agreement_" + f.name + ".png";
      tau_figure(rep + "/" + name, f.name, t, pairs);
      h << "<img src='" << name << "' width='560'>\n";
    }
  }
  write_file_atomic(run + "/agreement.csv", csv_out.str());
  return shown;
}

// The first image beside its heatmaps at each metric's optimum (and the consensus), one row
// per family.
void optima_heatmaps(std::ostream& h, const Plan& plan, const std::string& rep,
                     const std::vector<std::pair<std::string, const ConfigRow*>>& optima) {
  if (optima.empty()) return;
  std::vector<Composite> comps;
  for (const auto& o : optima) comps.push_back(plan.composites[static_cast<size_t>(o.second->id)]);
  const Explanation ex = explain(plan.net, plan.x.narrow(0, 0, 1), {plan.images[0].target}, comps,
                                 ExplainOptions{false});
  const at::Tensor pixels = denormalize(plan.x[0], plan.net.mean, plan.net.std);
  HeatmapStyle plain;
  plain.overlay = true;  // zero relevance over the image: the input itself, in grey
  write_png(rep + "/input_0.png", render_heatmap(at::zeros_like(plan.x[0]), pixels, plain));
  h << "<h2>Heatmaps at each metric's optimum</h2><p>The first image (image "
    << html(image_label(plan.images[0].image))
    << ", in grey) and its relevance under each metric's optimum and the consensus.</p>"
       "<table>\n";
  std::string family;
  for (size_t k = 0; k < optima.size(); ++k) {
    write_png(rep + "/optimum_" + std::to_string(k) + ".png",
              render_heatmap(ex.relevance[0][static_cast<int64_t>(k)], pixels, HeatmapStyle{}));
    const std::string fam = optima[k].second->family;
    if (fam != family) {
      h << (family.empty() ? "" : "</tr>\n") << "<tr><td>" << html(fam)
        << "<br><img src='input_0.png' width='120'></td>";
      family = fam;
    }
    h << "<td>" << html(optima[k].first.substr(fam.size() + 2)) << "<br><img src='optimum_" << k
      << ".png' width='120' title='" << html(optima[k].second->config) << "'></td>";
  }
  h << "</tr></table>\n";
}

// LXT's figure, measured: the first image's heatmaps over the (gc, gl) grid of each cp-lrp and
// attnlrp family, with each order's optimum framed.
void gallery_section(std::ostream& h, const Run& r, const Plan& plan, const std::string& rep) {
  for (const Family& f : r.exp.families) {
    if (!two_axis_grid(r, f) || (f.name != "cp-lrp" && f.name != "attnlrp")) continue;
    const std::vector<double> v1 = f.params[0].values(), v2 = f.params[1].values();
    std::vector<std::vector<const ConfigRow*>> cell(v1.size(), std::vector<const ConfigRow*>(v2.size()));
    std::vector<Composite> comps;
    for (const ConfigRow& cf : r.configs)
      if (cf.family == f.name && cf.point == "grid" && cf.i1 >= 0 && cf.i2 >= 0 &&
          static_cast<size_t>(cf.i1) < v1.size() && static_cast<size_t>(cf.i2) < v2.size())
        cell[static_cast<size_t>(cf.i1)][static_cast<size_t>(cf.i2)] = &cf;
    bool complete = true;
    for (const auto& row : cell)
      for (const ConfigRow* cf : row) {
        complete = complete && cf;
        if (cf) comps.push_back(plan.composites[static_cast<size_t>(cf->id)]);
      }
    if (!complete) continue;  // an incomplete grid: no gallery for this family
    const Explanation ex = explain(plan.net, plan.x.narrow(0, 0, 1), {plan.images[0].target},
                                   comps, ExplainOptions{false});
    const at::Tensor pixels = denormalize(plan.x[0], plan.net.mean, plan.net.std);
    std::vector<std::vector<at::Tensor>> tiles(v1.size());
    for (size_t a = 0, k = 0; a < v1.size(); ++a)
      for (size_t b = 0; b < v2.size(); ++b, ++k)
        tiles[a].push_back(render_heatmap(ex.relevance[0][static_cast<int64_t>(k)], pixels, HeatmapStyle{}));
    std::vector<GalleryMark> marks;
    std::string legend;
    for (size_t o = 0; o < r.exp.orders.size(); ++o) {
      const std::string order = order_name(r.exp.orders[o]);
      const auto rk = ranked(r, f, order);
      if (rk.empty() || better_sign(order, r.exp.auc_kind) == 0) continue;
      const std::array<float, 3> c = mark_colour(o);
      marks.push_back({rk.front().config->i1, rk.front().config->i2, c});
      char hex[8];
      std::snprintf(hex, sizeof hex, "#%02x%02x%02x", static_cast<int>(c[0] * 255),
                    static_cast<int>(c[1] * 255), static_cast<int>(c[2] * 255));
      legend += std::string(legend.empty() ? "" : ", ") + "<span style='color:" + hex + "'>" +
                order + "</span> at " + html(params_text(f, *rk.front().config));
    }
    const std::string name = "gallery_" + f.name + ".png";
    write_png(rep + "/" + name, gallery(tiles, marks));
    const auto axes = f.param_names();
    h << "<h2>Gallery: " << html(f.name) << " over (" << html(axes[0]) << ", " << html(axes[1])
      << ")</h2><p>Image " << html(image_label(plan.images[0].image)) << "; rows " << html(axes[0])
      << " (" << fmt(v1.front(), 3) << " to " << fmt(v1.back(), 3) << "), columns "
      << html(axes[1]) << " (" << fmt(v2.front(), 3) << " to " << fmt(v2.back(), 3)
      << "), in the grid's order. Framed: each order's measured optimum (" << legend
      << ").</p><img src='" << name << "'>\n";
  }
}

// Heatmaps of the first images at the optima, reference points and worst configurations,
// recomputed from the experiment (the store keeps no relevance).
void heatmaps_section(std::ostream& h, const Run& r, const std::string& rep, const Choices& c,
                      const std::vector<std::pair<std::string, const ConfigRow*>>& optima) {
  const auto& optimum = c.optimum;
  const auto& worst = c.worst;
  // Heatmaps and perturbed images: recomputed for the first images.
  h << "<h2>Heatmaps</h2>\n";
  try {
    Experiment small = r.exp;
    const Plan plan = make_plan(small, at::Device(at::kCPU));
    require(plan.configs.size() == r.configs.size() && plan.images.size() == r.images.size(),
            "the store's configurations or images differ from its definition");
    std::vector<std::pair<std::string, const ConfigRow*>> shown;  // title, configuration
    for (const auto& [fam, cf] : optimum) shown.push_back({fam + " optimum", cf});
    for (const ConfigRow& cf : r.configs)
      if (cf.point == "reference") shown.push_back({"reference " + cf.spec, &cf});
    for (const auto& [fam, cf] : worst) shown.push_back({fam + " worst", cf});
    const int64_t n = std::min<int64_t>(4, plan.x.size(0));
    h << "<p>Rows: the first " << n
      << " images; relevance summed over channels, "
         "blue-white-red.</p><table><tr><th>composite</th>";
    for (int64_t i = 0; i < n; ++i)
      h << "<th>image " << html(image_label(plan.images[static_cast<size_t>(i)].image)) << "</th>";
    h << "</tr>\n";
    std::vector<Composite> comps;
    for (const auto& s : shown) comps.push_back(plan.composites[static_cast<size_t>(s.second->id)]);
    for (int64_t i = 0; i < n; ++i) {
      const Explanation ex =
          explain(plan.net, plan.x.narrow(0, i, 1), {plan.images[static_cast<size_t>(i)].target},
                  comps, ExplainOptions{false});
      const at::Tensor pixels = denormalize(plan.x[i], plan.net.mean, plan.net.std);
      for (size_t k = 0; k < comps.size(); ++k)
        write_png(rep + "/heatmap_" + std::to_string(k) + "_" + std::to_string(i) + ".png",
                  render_heatmap(ex.relevance[0][static_cast<int64_t>(k)], pixels, HeatmapStyle{}));
      if (i == 0) {
        // The first image at the penultimate MoRF step of each shown configuration.
        std::vector<std::vector<at::Tensor>> rows(1);
        PFSettings s = plan.exp.pf;
        const ImageContext ctx = make_context(plan.x[0], plan.net.mean, plan.net.std, s.patch, 0);
        for (size_t k = 0; k < comps.size(); ++k) {
          const auto steps =
              job_steps(ctx, {Order::Morf, ex.relevance[0][static_cast<int64_t>(k)]}, s);
          rows[0].push_back(
              denormalize(render(ctx, s, steps, steps.size() - 1), plan.net.mean, plan.net.std));
        }
        write_png(rep + "/penultimate.png", montage(rows));
      }
    }
    for (size_t k = 0; k < shown.size(); ++k) {
      h << "<tr><td>" << html(shown[k].first) << "<br><code>" << html(shown[k].second->spec)
        << "</code></td>";
      for (int64_t i = 0; i < n; ++i)
        h << "<td><img src='heatmap_" << k << "_" << i << ".png' width='150'></td>";
      h << "</tr>\n";
    }
    h << "</table>\n<h2>Perturbed images at the penultimate MoRF step</h2><p>First image; one "
         "column per composite above, in the same order.</p><img src='penultimate.png'>\n";
    optima_heatmaps(h, plan, rep, optima);
    gallery_section(h, r, plan, rep);
  } catch (const InputError& e) {
    h << "<p>Heatmaps unavailable: " << html(e.what()) << "</p>\n";
  }
}

// Every output of the report, before anything is computed: RUN's CSV and JSON files (the
// grid_*.csv there included) and, in RUN/report, every name of a kind the report writes
// (.html, .png, and gnuplot's .dat and .gp) must be regular files where they exist; anything
// else a user keeps there is left alone.
void check_report_outputs(const std::string& run) {
  std::vector<std::string> files = {"aucs.csv", "metrics.csv", "agreement.csv", "trials.csv",
                                    "search.json"};
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(run, ec)) {
    const std::string name = e.path().filename().string();
    if (name.rfind("grid_", 0) == 0 && e.path().extension() == ".csv") files.push_back(name);
  }
  check_output_dir(run, files);
  std::vector<std::string> in_report;  // names of the kinds the report writes there
  for (const auto& e : fs::directory_iterator(run + "/report", ec)) {
    const std::string ext = e.path().extension().string();
    if (ext == ".html" || ext == ".png" || ext == ".dat" || ext == ".gp")
      in_report.push_back(e.path().filename().string());
  }
  check_output_dir(run + "/report", in_report);
}

}  // namespace

ReportSummary write_report(const std::string& run) {
  check_report_outputs(run);
  ReportSummary summary;
  const Run r = read_run(run, summary);
  write_csvs(run, r);
  const std::string rep = run + "/report";
  fs::create_directories(rep);
  std::ostringstream h;
  h << "<!doctype html><html><head><meta charset='utf-8'><title>lrpbench report</title><style>"
       "body{font-family:sans-serif;max-width:1200px;margin:2em auto;color:#222}"
       "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #bbb;padding:3px 8px;"
       "font-size:13px}th{background:#eee}img{max-width:100%;margin:4px}code{font-size:12px}"
       ".figs{display:flex;flex-wrap:wrap}</style></head><body>\n";
  const size_t n_images = r.images.size();
  h << "<h1>LRP hyperparameter search</h1>\n<p>Model <b>" << html(r.exp.model) << "</b>"
    << (r.exp.weights.empty() ? "" : " (weights " + html(r.exp.weights) + ")") << "; " << n_images
    << " images; " << r.curves.size() << " curves; <b>" << summary.done << " of "
    << summary.units << " work units done</b>"
    << (summary.in_progress ? " (a search was still writing the run)"
                            : (summary.done < summary.units ? " (incomplete run)" : ""))
    << "; score " << html(r.exp.pf.score)
    << ", AUC kind <b>" << html(r.exp.auc_kind) << "</b>; PF: " << html(r.exp.pf.mode) << ", patch "
    << r.exp.pf.patch << ", schedule " << html(r.exp.pf.schedule.text()) << ".</p>\n";

  const Choices choices = best_section(h, r);
  holdout_section(h, r);
  rung_section(h, r);
  convergence_section(h, r, rep);
  cmaes_section(h, r, rep);
  pareto_section(h, r, rep);
  parallel_section(h, r, rep);
  contour_section(h, r, rep);
  const auto optima = agreement_section(h, r, run, rep);
  box_section(h, r, rep);
  curves_section(h, r, rep, choices);
  heatmaps_section(h, r, rep, choices, optima);
  h << "<h2>Files</h2><p><a href='../aucs.csv'>aucs.csv</a> (every curve's " << html(r.exp.auc_kind)
    << "), <a href='../metrics.csv'>metrics.csv</a> (every configuration, image and metric), "
       "<a href='../agreement.csv'>agreement.csv</a> (Kendall tau-b per family and metric pair), "
       "grid_&lt;family&gt;_&lt;order&gt;.csv (mean and population std per grid point), "
       "results.sqlite (everything).</p></body></html>\n";
  write_file_atomic(rep + "/index.html", h.str());
  return summary;
}

}  // namespace lrpbench
