#include "search/stored_run.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "model/shape.h"
#include "perturbation/auc.h"
#include "search/sampling.h"
#include "search/winners.h"
#include "util/error.h"

namespace lrpbench {

std::vector<UnitRow> plan_units(const Experiment& exp, int64_t images) {
  std::vector<UnitRow> units;
  const int64_t search_images = images - exp.data.holdout;
  const bool refs = !exp.references.empty(), families = !exp.families.empty();
  if (exp.search.evolves()) {
    int64_t id = 0;
    for (int64_t g = 0; g <= exp.search.generations; ++g)
      for (int64_t i = 0; i < search_images; ++i)
        for (const Family& f : exp.families) units.push_back({id++, i, f.name});
    for (int64_t i = 0; i < images; ++i) {
      if (i >= search_images && families) units.push_back({id++, i, "holdout"});
      if (refs) units.push_back({id++, i, "reference"});
    }
    return units;
  }
  const int64_t per_image = static_cast<int64_t>(exp.families.size()) + (refs ? 1 : 0);
  for (int64_t i = 0; i < images; ++i) {
    if (i >= search_images && families) units.push_back({i * per_image, i, "holdout"});
    for (size_t f = 0; f < exp.families.size() && i < search_images; ++f)
      units.push_back({i * per_image + static_cast<int64_t>(f), i, exp.families[f].name});
    if (refs) units.push_back({i * per_image + per_image - 1, i, "reference"});
  }
  return units;
}

int64_t known_classes(const Experiment& exp) {
  if (is_embedded_model(exp.model)) return 10;
  return exp.model.find('/') == std::string::npos ? 1000 : 0;
}

namespace {

std::string id_text(int64_t id) { return std::to_string(id); }

// The images: as many as the definition selects, targets among the model's classes (the
// one the definition names, where it names one; the label, for target = auto), labels of the
// class a dataset's images are selected by.
void check_images(const Store& s, const Experiment& exp, const std::vector<ImageRow>& images) {
  const int64_t n = static_cast<int64_t>(images.size());
  if (exp.data.count > 0 && n != exp.data.count)
    s.refuse("it holds " + id_text(n) + " images, its definition selects " +
             id_text(exp.data.count));
  if (n <= exp.data.holdout)
    s.refuse("it holds " + id_text(n) + " images, not more than the " +
             id_text(exp.data.holdout) + " held out");
  const int64_t classes = known_classes(exp);
  const bool fixed = exp.data.target != "auto" && exp.data.target != "argmax";
  for (const ImageRow& im : images) {
    if ((classes > 0 && im.target >= classes) ||
        (fixed && im.target != std::stoll(exp.data.target)))
      s.refuse("image " + id_text(im.id) + "'s target " + id_text(im.target) +
               " is not a class of " + exp.model +
               (fixed ? " named by its definition (" + exp.data.target + ")" : std::string()));
    if (im.label < -1 || (classes > 0 && im.label >= classes))
      s.refuse("image " + id_text(im.id) + "'s label " + id_text(im.label) + " is not a class of " +
               exp.model);
    if (exp.data.target == "auto" && im.label >= 0 && im.target != im.label)
      s.refuse("image " + id_text(im.id) + "'s target " + id_text(im.target) +
               " is not its label " + id_text(im.label) + " (target = auto)");
    if (!exp.data.dataset.empty() && exp.data.class_index >= 0 && im.label != exp.data.class_index)
      s.refuse("image " + id_text(im.id) + "'s label " + id_text(im.label) + " is not the class " +
               id_text(exp.data.class_index) + " its definition selects");
  }
}

// The configurations: each family's (its grid or sampled points, in order; CMA-ES / NSGA-II:
// trials of a known generation), then or before them the reference points in order; a
// configuration's composite is its family's template at its parameter values.
void check_configs(const Store& s, const Experiment& exp, const std::vector<ConfigRow>& configs) {
  std::map<std::string, size_t> family_index;
  for (size_t f = 0; f < exp.families.size(); ++f) family_index[exp.families[f].name] = f;
  const bool evolves = exp.search.evolves();
  const std::string point = exp.search.draw() == Strategy::Grid && !evolves ? "grid" : "trial";
  std::vector<std::vector<std::vector<double>>> expected(exp.families.size());
  if (!evolves)
    for (size_t f = 0; f < exp.families.size(); ++f) expected[f] = family_points(exp, f);
  std::vector<size_t> seen(exp.families.size(), 0);
  size_t refs = 0;
  int64_t round = 0;
  for (const ConfigRow& c : configs) {
    const std::string at = "configuration " + id_text(c.id);
    if (c.point == "reference" || c.family.empty()) {
      if (c.point != "reference" || !c.family.empty() || refs >= exp.references.size() ||
          c.spec != exp.references[refs])
        s.refuse(at + " is not the definition's reference point " +
                 (refs < exp.references.size() ? "'" + exp.references[refs] + "'"
                                               : std::string("(it has ") +
                                                     id_text(static_cast<int64_t>(refs)) + ")"));
      ++refs;
      continue;
    }
    const auto fi = family_index.find(c.family);
    if (fi == family_index.end())
      s.refuse(at + " names family '" + c.family + "', which its definition does not declare");
    const Family& f = exp.families[fi->second];
    if (c.point != point) s.refuse(at + " is a '" + c.point + "' point, expected '" + point + "'");
    if (c.params.size() != f.params.size())
      s.refuse(at + " has " + id_text(static_cast<int64_t>(c.params.size())) +
               " parameter values (missing or malformed params), family '" + f.name +
               "' declares " + id_text(static_cast<int64_t>(f.params.size())));
    for (double v : c.params)
      if (!std::isfinite(v)) s.refuse(at + " has a non-finite parameter value");
    if (f.composite(c.params) != c.spec)
      s.refuse(at + "'s composite '" + c.spec + "' is not family '" + f.name +
               "' at its params");
    if (evolves) {
      if (c.round < round || c.round > exp.search.generations)
        s.refuse(at + "'s generation " + id_text(c.round) + " is out of order or beyond the " +
                 id_text(exp.search.generations) + " of its definition");
      round = c.round;
      continue;
    }
    const size_t k = seen[fi->second]++;
    if (k >= expected[fi->second].size() || expected[fi->second][k] != c.params)
      s.refuse(at + "'s params are not point " + id_text(static_cast<int64_t>(k)) +
               " of family '" + f.name + "' as its definition draws it");
    if (point == "grid" && f.params.size() == 2) {  // its grid position (the contour's cell)
      const std::vector<size_t> cell = f.grid_point(k);
      if (c.i1 != static_cast<int64_t>(cell[0]) || c.i2 != static_cast<int64_t>(cell[1]))
        s.refuse(at + " sits at grid position (" + id_text(c.i1) + ", " + id_text(c.i2) +
                 "), its params at (" + id_text(static_cast<int64_t>(cell[0])) + ", " +
                 id_text(static_cast<int64_t>(cell[1])) + ")");
    }
  }
  if (refs != exp.references.size())
    s.refuse("it holds " + id_text(static_cast<int64_t>(refs)) + " reference points, its "
             "definition names " + id_text(static_cast<int64_t>(exp.references.size())));
  for (size_t f = 0; f < exp.families.size() && !evolves; ++f)
    if (seen[f] != expected[f].size())
      s.refuse("it holds " + id_text(static_cast<int64_t>(seen[f])) + " configurations of family '" +
               exp.families[f].name + "', its definition draws " +
               id_text(static_cast<int64_t>(expected[f].size())));
}

// What the finished units hold: per unit, per configuration, the orders and metric names.
using UnitContents = std::map<int64_t, std::map<int64_t, std::set<std::string>>>;

// Each finished unit holds, for every configuration it scored, every PF order and every other
// metric of the definition, and the configurations its kind of unit scores: a family's (all of
// them, or a generation's first draws of each canonical form, or a halving rung's survivors,
// the same for every image of the rung), the reference points, or the held-out winners (the
// same for every held-out image).
void check_units(const Store& s, const Experiment& exp, const std::vector<ConfigRow>& configs,
                 const std::vector<UnitRow>& units, const UnitContents& contents) {
  std::set<std::string> wanted;
  for (Order o : exp.orders) wanted.insert(std::string("pf-") + order_name(o));
  for (const std::string& m : exp.extra_metrics()) wanted.insert(m);
  const std::set<int64_t> done = s.done_units();
  const std::vector<int64_t> same = first_same(configs);
  const int64_t images = units.empty() ? 0 : units.back().image_id + 1;
  const int64_t search_images = images - exp.data.holdout;
  const int64_t per_generation =
      search_images * static_cast<int64_t>(exp.families.size());
  std::vector<int64_t> rungs;
  if (exp.search.strategy == Strategy::Halving)
    rungs = halving_rungs(search_images, exp.search.min_images, exp.search.eta);
  std::map<std::pair<std::string, int64_t>, std::set<int64_t>> group_sets;  // (kind, group)
  static const std::map<int64_t, std::set<std::string>> nothing;
  for (const UnitRow& u : units) {
    if (!done.count(u.id)) continue;
    const std::string at = "finished work unit " + id_text(u.id);
    const auto it = contents.find(u.id);
    const auto& rows = it == contents.end() ? nothing : it->second;
    std::set<int64_t> ids;
    for (const auto& [id, names] : rows) {
      if (names != wanted)
        s.refuse(at + " lacks values of configuration " + id_text(id) +
                 " (curves or metric values missing)");
      const ConfigRow& c = configs[static_cast<size_t>(id)];
      const bool fits = u.family == "reference"  ? c.point == "reference"
                        : u.family == "holdout" ? c.point != "reference"
                                                : c.family == u.family;
      if (!fits) s.refuse(at + " holds configuration " + id_text(id) + " of another kind");
      ids.insert(id);
    }
    std::set<int64_t> expected;
    int64_t group = 0;
    bool exact = true;
    for (const ConfigRow& c : configs) {
      if (u.family == "reference") {
        if (c.point == "reference") expected.insert(c.id);
      } else if (u.family != "holdout" && c.family == u.family && c.point != "reference") {
        if (exp.search.evolves()) {
          group = u.id / std::max<int64_t>(1, per_generation);
          if (c.round == group && same[static_cast<size_t>(c.id)] == c.id) expected.insert(c.id);
        } else {
          expected.insert(c.id);
        }
      }
    }
    if (u.family == "holdout") {
      exact = false;
      if (ids.empty() && !exp.families.empty()) s.refuse(at + " holds no values");
    } else if (!rungs.empty() && u.family != "reference") {
      for (group = 0; group < static_cast<int64_t>(rungs.size()) && u.image_id >= rungs[group];)
        ++group;
      exact = group == 0;
      for (int64_t id : ids)
        if (!expected.count(id)) s.refuse(at + " holds configuration " + id_text(id) +
                                          " of another family");
    }
    if (exact && ids != expected)
      s.refuse(at + " holds " + id_text(static_cast<int64_t>(ids.size())) +
               " configurations' values, expected " +
               id_text(static_cast<int64_t>(expected.size())) + " (curves missing or extra)");
    if (!exact) {
      const auto key = std::make_pair(u.family, group);
      const auto [g, fresh] = group_sets.emplace(key, ids);
      if (!fresh && g->second != ids)
        s.refuse(at + " scored other configurations than the other images of its " +
                 (u.family == "holdout" ? std::string("held-out units") : "rung"));
    }
  }
}

// A curve's AUC and AOPC are those of its scores (the same arithmetic that wrote them), its
// normalised AUC defined where the first score is positive, and its length the store's.
void check_curve_scores(const Store& s, const CurveRow& c, size_t& steps) {
  const std::string at = "the " + c.order + " curve of configuration " + id_text(c.config_id) +
                         " on image " + id_text(c.image_id);
  if (steps == 0) steps = c.scores.size();
  if (c.scores.size() != steps)
    s.refuse(at + " has " + id_text(static_cast<int64_t>(c.scores.size())) + " scores, the "
             "store's curves " + id_text(static_cast<int64_t>(steps)));
  auto same = [](double stored, double computed) {
    return std::fabs(stored - computed) <= 1e-12 * std::max(1.0, std::fabs(computed));
  };
  if (!same(c.auc, auc(c.scores)) || !same(c.aopc, aopc(c.scores)))
    s.refuse(at + " has an AUC or AOPC that its scores do not give");
  if (c.auc_normalized.has_value() != (!c.scores.empty() && c.scores[0] > 0))
    s.refuse(at + " has a normalised AUC " +
             (c.auc_normalized ? "although its first score is not positive"
                               : "missing although its first score is positive"));
}

// The Pareto fronts (nsga2 runs): families of the definition, configurations of that family.
void check_pareto(const Store& s, const Experiment& exp, const std::vector<ConfigRow>& configs) {
  const auto text = s.meta("pareto");
  if (!text) return;
  if (exp.search.strategy != Strategy::Nsga2)
    s.refuse("it holds a Pareto front, but its definition's strategy is " +
             strategy_name(exp.search.strategy));
  ParetoFronts fronts;
  try {
    fronts = pareto_from_json(*text);
  } catch (const InputError& e) {
    s.refuse(e.what());
  }
  for (const auto& [family, ids] : fronts) {
    bool known = false;
    for (const Family& f : exp.families) known = known || f.name == family;
    if (!known) s.refuse("its Pareto front names family '" + family + "', which its definition "
                         "does not declare");
    for (int64_t id : ids) {
      if (id < 0 || id >= static_cast<int64_t>(configs.size()) ||
          configs[static_cast<size_t>(id)].family != family)
        s.refuse("its Pareto front of family '" + family + "' names configuration " + id_text(id) +
                 ", which is not one of that family");
    }
  }
}

// A finished nsga2 run holds every family's Pareto front (written with its last generation;
// older versions' merge dropped it). Read-only commands refuse one without: a resumed search
// writes it again, so resume is not refused.
void check_front_written(const Store& s, const Experiment& exp) {
  if (exp.search.strategy != Strategy::Nsga2) return;
  const std::vector<UnitRow> units = s.units();
  if (units.empty() || s.done_units().size() != units.size()) return;
  const auto text = s.meta("pareto");
  const ParetoFronts fronts = text ? pareto_from_json(*text) : ParetoFronts{};
  for (const Family& f : exp.families)
    if (!fronts.count(f.name))
      s.refuse("its Pareto front of family '" + f.name + "' is missing although every unit is "
               "done; run the same search again (it writes the front anew)");
}

}  // namespace

void check_rows(const Store& s, const Experiment& exp) {
  const std::vector<ImageRow> images = s.images();
  const std::vector<ConfigRow> configs = s.configs();
  // A store killed between its creation and its plan's transaction holds no rows yet.
  if (images.empty() && configs.empty() && s.units().empty() && !s.meta("pareto")) return;
  check_images(s, exp, images);
  const std::vector<UnitRow> units = s.units();
  const std::vector<UnitRow> expected = plan_units(exp, static_cast<int64_t>(images.size()));
  bool same = units.size() == expected.size();
  for (size_t i = 0; same && i < units.size(); ++i)
    same = units[i].id == expected[i].id && units[i].image_id == expected[i].image_id &&
           units[i].family == expected[i].family;
  if (!same)
    s.refuse("its work units are not those of its definition over its " +
             id_text(static_cast<int64_t>(images.size())) + " images (unknown family?)");
  check_configs(s, exp, configs);
  UnitContents contents;
  std::set<std::string> orders;
  for (Order o : exp.orders) orders.insert(order_name(o));
  size_t steps = 0;  // every curve of a store has the same number of steps
  for (const CurveRow& c : s.curves()) {
    if (!orders.count(c.order))
      s.refuse("a curve has order '" + c.order + "', which its definition does not compute");
    check_curve_scores(s, c, steps);
    contents[c.unit][c.config_id].insert("pf-" + c.order);
  }
  const std::vector<std::string> extra = exp.extra_metrics();
  for (const MetricRow& m : s.metric_values()) {
    if (std::find(extra.begin(), extra.end(), m.metric) == extra.end())
      s.refuse("a metric value is of metric '" + m.metric +
               "', which its definition does not compute");
    contents[m.unit][m.config_id].insert(m.metric);
  }
  check_units(s, exp, configs, units, contents);
  check_pareto(s, exp, configs);
}

StoredRun open_stored_run(const std::string& path, Store::Mode mode, const std::string& way_out,
                          const std::string& definition) {
  StoredRun run;
  run.store = std::make_unique<Store>(path, mode, way_out, definition);
  const Store& s = *run.store;
  s.begin_snapshot();
  try {
    const nlohmann::json d = nlohmann::json::parse(*s.meta("definition"), nullptr, false);
    try {
      run.exp = experiment_from_definition(d, path);
    } catch (const InputError& e) {
      // "PATH: corrupt run definition (WHY)" -> "its run definition is damaged: WHY"
      std::string why = e.what();
      const std::string head = path + ": corrupt run definition (",
                        refused = path + ": " + kRefusedDefinition + " (";
      if (why.rfind(refused, 0) == 0 && why.back() == ')')
        s.refuse("it was made from " + std::string(kRefusedDefinition) + ": " +
                 why.substr(refused.size(), why.size() - refused.size() - 1));
      if (why.rfind(head, 0) == 0 && why.back() == ')')
        why = why.substr(head.size(), why.size() - head.size() - 1);
      s.refuse("its run definition is damaged: " + why);
    }
    check_rows(s, run.exp);
    if (mode == Store::Mode::Read) check_front_written(s, run.exp);
  } catch (...) {
    s.end_snapshot();
    throw;
  }
  s.end_snapshot();
  return run;
}

}  // namespace lrpbench
