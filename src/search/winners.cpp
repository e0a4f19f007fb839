#include "search/winners.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "perturbation/auc.h"
#include "perturbation/metric_catalogue.h"
#include "util/error.h"

namespace lrpbench {

std::vector<int64_t> halving_rungs(int64_t search_images, int64_t min_images, int64_t eta) {
  std::vector<int64_t> out;
  double n = static_cast<double>(min_images);
  while (true) {
    out.push_back(std::min<int64_t>(search_images, static_cast<int64_t>(n)));
    if (out.back() >= search_images) return out;
    n *= static_cast<double>(eta);
  }
}

std::vector<int64_t> halving_keep(std::vector<std::pair<int64_t, std::optional<double>>> candidates,
                                  int64_t eta, int sign) {
  auto oriented = [sign](const std::optional<double>& v) { return v ? sign * *v : -INFINITY; };
  std::sort(candidates.begin(), candidates.end(), [&](const auto& a, const auto& b) {
    const double x = oriented(a.second), y = oriented(b.second);
    return x > y || (x == y && a.first < b.first);
  });
  const auto n = static_cast<int64_t>(candidates.size());
  const int64_t keep = std::min(n, std::max<int64_t>(1, (n + eta - 1) / eta));
  std::vector<int64_t> out;
  for (int64_t i = 0; i < keep; ++i) out.push_back(candidates[static_cast<size_t>(i)].first);
  return out;
}

int objective_sign(const Experiment& exp, const std::string& name) {
  return metric_better(find_metric_info(name.empty() ? exp.objective_name() : name),
                       exp.auc_kind) == Better::Higher
             ? 1
             : -1;
}

std::vector<std::tuple<int64_t, int64_t, std::optional<double>>> metric_rows(
    const Experiment& exp, const std::string& name, const std::vector<CurveRow>& curves,
    const std::vector<MetricRow>& metrics) {
  const MetricInfo& info = find_metric_info(name);
  std::vector<std::tuple<int64_t, int64_t, std::optional<double>>> out;
  if (info.pf_order) {
    for (const CurveRow& c : curves)
      if (c.order == order_name(*info.pf_order))
        out.emplace_back(c.config_id, c.image_id,
                         curve_value({c.auc, c.aopc, c.auc_normalized}, exp.auc_kind));
  } else {
    for (const MetricRow& m : metrics)
      if (m.metric == name) out.emplace_back(m.config_id, m.image_id, m.value);
  }
  return out;
}

std::map<int64_t, MeanOf> metric_means(const Experiment& exp, const std::string& name,
                                       int64_t images, const std::vector<CurveRow>& curves,
                                       const std::vector<MetricRow>& metrics) {
  std::map<int64_t, MeanOf> out;
  for (const auto& [config, image, value] :
       metric_rows(exp, name.empty() ? exp.objective_name() : name, curves, metrics)) {
    if (image >= images) continue;
    MeanOf& m = out[config];
    ++m.rows;
    if (value) {
      m.sum += *value;
      ++m.defined;
    }
  }
  return out;
}

std::vector<int64_t> first_same(const std::vector<ConfigRow>& configs) {
  std::map<std::pair<std::string, std::string>, int64_t> first;
  std::vector<int64_t> out;
  for (const ConfigRow& c : configs)
    out.push_back(c.point == "reference" ? c.id : first.emplace(std::make_pair(c.family, c.config), c.id).first->second);
  return out;
}

std::string pareto_json(const ParetoFronts& fronts) {
  return nlohmann::json(fronts).dump();
}

ParetoFronts pareto_from_json(const std::string& text) {
  try {
    // {"family": [distinct configuration ids, at least one], ...}: ids are integers (4.5
    // would convert to 4).
    const nlohmann::json j = nlohmann::json::parse(text);
    if (!j.is_object()) throw InputError("corrupt Pareto front in the store (not an object)");
    for (const auto& [family, ids] : j.items()) {
      std::set<int64_t> seen;
      bool ok = ids.is_array() && !ids.empty();
      for (const auto& id : ids)
        ok = ok && id.is_number_integer() && seen.insert(id.get<int64_t>()).second;
      if (!ok)
        throw InputError("corrupt Pareto front in the store (family '" + family +
                         "': expected distinct configuration ids, at least one)");
    }
    return j.get<ParetoFronts>();
  } catch (const nlohmann::json::exception& e) {
    throw InputError("corrupt Pareto front in the store (" + std::string(e.what()) + ")");
  }
}

std::vector<Winner> family_winners(const Experiment& exp, const std::vector<ConfigRow>& configs,
                                   int64_t search_images, const std::vector<CurveRow>& curves,
                                   const std::vector<MetricRow>& metrics,
                                   const ParetoFronts* fronts) {
  const std::map<int64_t, MeanOf> means = metric_means(exp, "", search_images, curves, metrics);
  const int sign = objective_sign(exp);
  std::vector<Winner> out;
  for (const Family& f : exp.families) {
    std::set<int64_t> allowed;
    if (fronts && fronts->count(f.name))
      allowed.insert(fronts->at(f.name).begin(), fronts->at(f.name).end());
    Winner w;
    for (const ConfigRow& c : configs) {
      if (c.point == "reference" || c.family != f.name) continue;
      if (fronts && !allowed.count(c.id)) continue;
      const auto it = means.find(c.id);
      if (it == means.end() || it->second.rows != search_images || !it->second.mean()) continue;
      const double mean = *it->second.mean();
      if (w.config < 0 || sign * mean > sign * w.value) w = {c.id, mean};
    }
    out.push_back(w);
  }
  return out;
}

}  // namespace lrpbench
