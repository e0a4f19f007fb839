#include "search/winners.h"

#include <algorithm>
#include <map>

#include "perturbation/auc.h"
#include "perturbation/metric_catalogue.h"

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

int objective_sign(const Experiment& exp) {
  return metric_better(find_metric_info(exp.objective_name()), exp.auc_kind) == Better::Higher
             ? 1
             : -1;
}

std::vector<std::tuple<int64_t, int64_t, std::optional<double>>> objective_rows(
    const Experiment& exp, const std::vector<CurveRow>& curves,
    const std::vector<MetricRow>& metrics) {
  const std::string objective = exp.objective_name();
  const MetricInfo& info = find_metric_info(objective);
  std::vector<std::tuple<int64_t, int64_t, std::optional<double>>> out;
  if (info.pf_order) {
    for (const CurveRow& c : curves)
      if (c.order == order_name(*info.pf_order))
        out.emplace_back(c.config_id, c.image_id,
                         curve_value({c.auc, c.aopc, c.auc_normalized}, exp.auc_kind));
  } else {
    for (const MetricRow& m : metrics)
      if (m.metric == objective) out.emplace_back(m.config_id, m.image_id, m.value);
  }
  return out;
}

std::vector<Winner> family_winners(const Experiment& exp, const std::vector<ConfigRow>& configs,
                                   int64_t search_images, const std::vector<CurveRow>& curves,
                                   const std::vector<MetricRow>& metrics) {
  struct Sum {
    double sum = 0;
    int64_t defined = 0, rows = 0;
  };
  std::map<int64_t, Sum> sums;
  for (const auto& [config, image, value] : objective_rows(exp, curves, metrics)) {
    if (image >= search_images) continue;
    Sum& s = sums[config];
    ++s.rows;
    if (value) {
      s.sum += *value;
      ++s.defined;
    }
  }
  const int sign = objective_sign(exp);
  std::vector<Winner> out;
  for (const Family& f : exp.families) {
    Winner w;
    for (const ConfigRow& c : configs) {
      if (c.point == "reference" || c.family != f.name) continue;
      const auto it = sums.find(c.id);
      if (it == sums.end() || it->second.rows != search_images || it->second.defined == 0)
        continue;
      const double mean = it->second.sum / static_cast<double>(it->second.defined);
      if (w.config < 0 || sign * mean > sign * w.value) w = {c.id, mean};
    }
    out.push_back(w);
  }
  return out;
}

}  // namespace lrpbench
