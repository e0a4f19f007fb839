#pragma once
// Experiments (docs/method.md section 4 and the README): what a search computes, from a TOML file or a preset.
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "perturbation/metric_catalogue.h"
#include "perturbation/order.h"
#include "perturbation/settings.h"
#include "search/space.h"

namespace lrpbench {

// A family: a composite template with one declared parameter per placeholder (docs/method.md
// section 4a). The built-in families are templates too: tutorial = "tutorial({gamma},{eps})",
// decreasing-gamma = "decreasing-gamma({g1},{g2})", declared by the values / values1 / values2
// keys (their run definition is what it was before templates).
struct Family {
  std::string name;
  std::string templ;
  std::vector<ParamDecl> params;  // in order of first appearance in the template
  bool builtin = false;           // declared by values keys
  int line = 0;                   // its line in the experiment file (messages)

  // The composite text at the given parameter values (parameter order).
  std::string composite(const std::vector<double>& values) const;
  std::vector<std::string> param_names() const;
  bool discrete() const;  // every parameter discrete
  // The grid (discrete parameters): the number of combinations, and combination i (the first
  // parameter varies slowest) as value indices.
  uint64_t grid_size() const;
  std::vector<size_t> grid_point(uint64_t i) const;
};

// tutorial / decreasing-gamma on the two axes.
Family builtin_family(const std::string& name, const std::vector<double>& values1,
                      const std::vector<double>& values2);

// The search strategies (docs/method.md section 4a), parsed once from [search] strategy.
enum class Strategy { Grid, Random, Sobol, Halving, Cmaes, Nsga2 };
// "grid", "random", "sobol", "halving", "cmaes", "nsga2" (the TOML and stored spelling).
const std::string& strategy_name(Strategy s);
std::optional<Strategy> parse_strategy(const std::string& name);

// [search]: the strategy (docs/method.md section 4a).
struct SearchSpec {
  Strategy strategy = Strategy::Grid;
  int64_t budget = 0;                  // random / sobol (halving: sampled starting configurations)
  int64_t eta = 3;                     // halving: keep the best ceil(n / eta) after a rung
  int64_t min_images = 2;              // halving: images of rung 0
  Strategy sampler = Strategy::Random; // halving with a budget: Random | Sobol
  int64_t population = 0;  // cmaes: 0 = max(5, 4 + floor(3 ln d)); nsga2: 0 = 16
  int64_t generations = 20;  // cmaes / nsga2: generations after generation 0
  // How the configurations known before the run are drawn: Grid, Random or Sobol (halving:
  // its starting set); Cmaes and Nsga2 draw theirs as they go.
  Strategy draw() const {
    return strategy == Strategy::Halving ? (budget > 0 ? sampler : Strategy::Grid) : strategy;
  }
  // CMA-ES and NSGA-II: configurations drawn generation by generation.
  bool evolves() const { return strategy == Strategy::Cmaes || strategy == Strategy::Nsga2; }
  // Halving, CMA-ES, NSGA-II: each rung or generation decided by the previous one.
  bool adaptive() const { return evolves() || strategy == Strategy::Halving; }
  // NSGA-II's population when `population` is 0.
  int64_t nsga2_population() const { return population > 0 ? population : 16; }
};

struct DataSpec {
  std::string dataset;  // "fashion-mnist", or empty
  std::string split = "test";
  std::string imagenet;  // val/<wnid>/*.JPEG
  std::string folder;    // a folder of images (with `labels` = LOC_val_solution.csv)
  std::string labels;
  std::string boxes;  // LOC_val_solution.csv for the localisation metrics' masks (optional)
  int64_t class_index = -1;  // -1: every class
  int64_t count = 0;         // 0: all
  int64_t holdout = 0;       // the last `holdout` images are kept out of the search
  std::string resize = "256-crop224";
  std::string target = "auto";
};

struct Experiment {
  std::string source;  // file name or "preset NAME" (for messages)
  std::string model = "fashion-vgg";
  std::string weights;
  std::string normalize;  // input normalisation of a model file ([model] normalize)
  DataSpec data;
  std::vector<Family> families;
  std::vector<std::string> references;  // composite texts
  std::vector<Order> orders;
  PFSettings pf;
  std::string auc_kind = "auc";
  // [metrics] list: the metrics computed (pf-* entries are the PF orders). Empty: the list
  // is pf-<order> for each of `orders` (experiments without [metrics]).
  std::vector<std::string> metric_list;
  MetricOptions metric_options;  // seed, score, batch, pf and auc_kind come from the above
  std::string objective;         // [search] objective; empty: the list's first directed metric
  std::vector<std::string> objectives;  // [search] objectives (nsga2): two or more metrics
  SearchSpec search;

  // The metric names computed, in list order.
  std::vector<std::string> metric_names() const;
  // The metrics that are not pf-* (computed beside the curves), in list order.
  std::vector<std::string> extra_metrics() const;
  // The objective: `objective`, the first of `objectives`, or the first metric with a
  // better direction.
  std::string objective_name() const;
  // Every objective: `objectives` (nsga2), else the one objective_name().
  std::vector<std::string> objective_names() const;
  // The metric options with the run's seed, score, batch, PF settings and AUC kind.
  MetricOptions metric_settings() const;
  // Everything that changes results, as JSON (stored in the run; compared on resume).
  nlohmann::json definition() const;
};

// The metric options of a run definition ([metrics] keys), and back.
nlohmann::json metric_options_json(const MetricOptions& o);
MetricOptions metric_options_from_json(const nlohmann::json& j);

// Axis values: a list, or "log(a,b,n)" / "log(a,b,n)+0" (0 and n values
// std::pow(10.0, a + (b-a)*k/(n-1))). Throws InputError naming `where`.
std::vector<double> parse_axis_values(const std::string& text, const std::string& where);

// Parses a TOML experiment; errors name the file, line and key.
Experiment parse_experiment_file(const std::string& path);
Experiment parse_experiment_text(const std::string& text, const std::string& source);

// The experiment a run's stored definition (Experiment::definition()) describes.
// Throws InputError "SOURCE: corrupt run definition (WHY)", or "SOURCE: <kRefusedDefinition>
// (WHY)" for a well-formed definition of an experiment this version no longer runs.
Experiment experiment_from_definition(const nlohmann::json& d, const std::string& source);
inline constexpr const char* kRefusedDefinition = "an experiment this version refuses";

// Presets: fashion-thesis, vgg16-thesis (needs weights and the ImageNet folder).
// `model` (fashion-thesis): fashion-vgg (default), fashion-resnet or a model file (a path,
// with `normalize`).
Experiment preset_experiment(const std::string& name, const std::string& weights,
                             const std::string& imagenet, const std::string& model = "",
                             const std::string& normalize = "");
std::vector<std::string> experiment_preset_names();

}  // namespace lrpbench
