#include <ATen/ATen.h>

#include <algorithm>
#include <filesystem>
#include <sstream>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/common.h"
#include "cli/evaluate_options.h"
#include "cli/metric_options.h"
#include "data/image.h"
#include "data/loc_csv.h"
#include "lrp/composite.h"
#include "lrp/engine.h"
#include "perturbation/evaluation.h"
#include "report/gnuplot.h"
#include "report/montage.h"
#include "util/error.h"
#include "util/file.h"
#include "util/npy.h"

namespace lrpbench {
namespace {

struct EvaluateArgs {
  CommonOptions common;
  InputSpec input;
  PFOptions pf;
  MetricCliOptions metrics;
  std::string relevance, composite, target = "auto", out, orders = "morf";
};

std::string csv_field(const nlohmann::json& id) {
  if (!id.is_string()) return id.dump();
  std::string s = id.get<std::string>(), out = "\"";
  for (char c : s) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

nlohmann::json opt_json(const std::optional<double>& v) {
  return v ? nlohmann::json(*v) : nlohmann::json(nullptr);
}

nlohmann::json scores_json(const CurveScores& c) {
  return {{"auc", c.auc}, {"auc_normalized", opt_json(c.auc_normalized)}, {"aopc", c.aopc}};
}

// evaluate.json's "metrics": name -> {value (mean over defined), better, undefined, images}.
nlohmann::json metrics_json(const std::vector<const Metric*>& which,
                            const std::vector<MetricValues>& values, const InputBatch& in) {
  nlohmann::json out = nlohmann::json::object();
  for (size_t m = 0; m < which.size(); ++m) {
    const auto [mean, undefined] = mean_defined(values[m]);
    nlohmann::json images = nlohmann::json::array();
    for (size_t i = 0; i < values[m].size(); ++i)
      images.push_back({{"image", in.ids[i]}, {"value", opt_json(values[m][i])}});
    out[which[m]->name] = {{"value", opt_json(mean)},
                           {"better", better_name(which[m]->better)},
                           {"undefined", undefined},
                           {"images", images}};
  }
  return out;
}

// The --mask file for inputs x (N x C x H x W): H x W for all images or N x H x W, exactly
// (no broadcasting: a 1 x 1 mask is not a 28 x 28 one), finite; one H x W bool mask per image
// (nonzero = inside). Read before any work.
std::vector<at::Tensor> read_mask_file(const std::string& path, const at::Tensor& x) {
  const int64_t n = x.size(0), h = x.size(2), w = x.size(3);
  at::Tensor m = read_npy(path);
  const bool plane = m.dim() == 2 && m.size(0) == h && m.size(1) == w;
  require(plane || (m.dim() == 3 && m.size(0) == n && m.size(1) == h && m.size(2) == w),
          "--mask " + path + ": expected H x W or N x H x W = " + std::to_string(n) + " x " +
              std::to_string(h) + " x " + std::to_string(w) + ", got " +
              std::string(c10::str(m.sizes())));
  require(at::isfinite(m).all().item<bool>(), "--mask " + path + ": holds NaN or infinite values");
  if (plane) m = m.unsqueeze(0).expand({n, h, w});
  std::vector<at::Tensor> out;
  for (int64_t i = 0; i < n; ++i) out.push_back(m[i].to(at::kDouble) != 0);
  return out;
}

// Ground-truth masks per image: --mask (read by read_mask_file: `file_masks`), --boxes
// (--image inputs), else the Fashion-MNIST foreground where it applies.
std::vector<at::Tensor> load_masks(const MetricCliOptions& o, const Network& net,
                                   const InputBatch& in, const std::vector<int64_t>& targets,
                                   const std::vector<at::Tensor>& file_masks) {
  const at::Tensor& x = in.x;
  const int64_t n = x.size(0);
  std::vector<at::Tensor> out;
  if (!o.boxes.empty()) {
    require(!in.files.empty(), "--boxes: masks from boxes need --image inputs");
    const auto boxes =
        parse_loc_boxes(read_file(o.boxes, "--boxes", kMaxLabelFileBytes), o.boxes);
    for (size_t i = 0; i < in.files.size(); ++i) {
      const std::string id = std::filesystem::path(in.files[i]).stem().string();
      const auto it = boxes.find(id);
      out.push_back(it == boxes.end() ? at::Tensor()
                                      : box_mask(it->second, targets[i], in.geometry[i]));
    }
    return out;
  }
  if (!o.mask.empty()) return file_masks;
  for (int64_t i = 0; i < n; ++i) out.push_back(fashion_foreground(net, x[i]));
  return out;
}

void write_outputs(const EvaluateArgs& a, const Network& net, const InputBatch& in,
                   const Evaluation& e, const PFSettings& s, const at::Tensor& rel,
                   const std::vector<int64_t>& targets, const std::vector<int64_t>& seeds,
                   const nlohmann::json& metrics) {
  const size_t n = e.curves.size();
  {
    std::ostringstream csv;
    csv.precision(9);
    csv << "image,order,step,patches_flipped,fraction,score\n";
    for (size_t i = 0; i < n; ++i)
      for (size_t o = 0; o < e.orders.size(); ++o) {
        const PFCurve& c = e.curves[i][o];
        for (size_t k = 0; k < c.scores.size(); ++k)
          csv << csv_field(in.ids[i]) << "," << order_name(e.orders[o]) << "," << k << ","
              << c.flipped[k] << "," << c.fraction[k] << "," << c.scores[k] << "\n";
      }
    write_file_atomic(a.out + "/curve.csv", csv.str());
  }
  nlohmann::json settings = s.to_json();
  settings["edge_patches"] = e.grid.edge_patches();
  settings["patches"] = e.grid.count();
  settings["points"] = e.curves[0][0].scores.size();
  settings["orders"] = nlohmann::json::array();
  for (Order o : e.orders) settings["orders"].push_back(order_name(o));
  settings["model"] = net.arch;
  nlohmann::json orders = nlohmann::json::object();
  for (size_t o = 0; o < e.orders.size(); ++o) {
    nlohmann::json images = nlohmann::json::array();
    for (size_t i = 0; i < n; ++i) {
      nlohmann::json j = scores_json(e.scores[i][o]);
      j["image"] = in.ids[i];
      j["target"] = targets[i];
      images.push_back(j);
    }
    const BatchScores& b = e.batch[o];
    orders[order_name(e.orders[o])] = {{"auc", b.auc},
                                       {"auc_normalized", opt_json(b.auc_normalized)},
                                       {"aopc", b.aopc},
                                       {"auc_normalized_undefined", b.auc_normalized_undefined},
                                       {"images", images}};
  }
  const BatchScores& first = e.batch[0];
  const nlohmann::json j = {
      {"auc", first.auc},     {"auc_normalized", opt_json(first.auc_normalized)},
      {"aopc", first.aopc},   {"auc_normalized_undefined", first.auc_normalized_undefined},
      {"settings", settings}, {"cache", {{"hits", e.stats.hits()}, {"misses", e.stats.forwards}}},
      {"orders", orders}};
  nlohmann::json jm = j;
  if (!metrics.empty()) jm["metrics"] = metrics;
  write_json_file(a.out + "/evaluate.json", jm);

  std::vector<Series> series;
  for (size_t o = 0; o < e.orders.size(); ++o) {
    Series sr{order_name(e.orders[o]), {}, e.mean_curves[o], "linespoints", {}};
    for (size_t k = 0; k < sr.y.size(); ++k) sr.x.push_back(static_cast<double>(k));
    series.push_back(sr);
  }
  line_plot(a.out + "/curve.png",
            "pixel-flipping, " + s.mode + ", patch " + std::to_string(e.grid.patch) + ", " +
                std::to_string(n) + " image(s)",
            "step",
            std::string("mean ") + (s.score == "prob" ? "probability" : "logit") + " of the target",
            series);

  // The first image at chosen steps, one row per order (the penultimate step included).
  const ImageContext ctx = make_context(in.x[0], net.mean, net.std, s.patch, seeds[0]);
  std::vector<std::vector<at::Tensor>> rows;
  for (Order o : e.orders) {
    const auto steps = job_steps(ctx, {o, rel[0]}, s);
    const size_t k_max = steps.size();
    std::vector<size_t> chosen = {0, k_max / 4, k_max / 2, 3 * k_max / 4, k_max - 1, k_max};
    chosen.erase(std::unique(chosen.begin(), chosen.end()), chosen.end());
    std::vector<at::Tensor> row;
    for (size_t k : chosen) {
      row.push_back(denormalize(render(ctx, s, steps, k), net.mean, net.std));
    }
    if (s.final_step == "minmax-mid")
      row.push_back(denormalize(render_minmax_mid(ctx), net.mean, net.std));
    rows.push_back(row);
  }
  write_png(a.out + "/perturbed.png", montage(rows));
}

void run_evaluate(EvaluateArgs& a) {
  require(!a.out.empty(), "--out: an output directory is required");
  check_output_dir(a.out, {"curve.csv", "evaluate.json", "curve.png", "perturbed.png"});
  const at::Device device = setup_runtime(a.common);
  const PreparedModel m = prepare_model(a.common, device);
  const InputBatch in = load_inputs(a.input, m.net);
  const std::vector<Order> orders = parse_orders(a.orders);
  PFSettings s = a.pf.settings(in.x.size(2), in.x.size(3), a.common);
  make_grid(in.x.size(2), in.x.size(3), s.patch);  // checks the patch size early
  std::vector<int64_t> targets = resolve_targets(a.target, in);
  at::Tensor rel;
  require(a.relevance.empty() != a.composite.empty(),
          "give exactly one of --relevance and --composite");
  const std::vector<const Metric*> which =
      a.metrics.metrics.empty() ? std::vector<const Metric*>() : parse_metrics(a.metrics.metrics);
  MetricOptions mopt = a.metrics.settings(a.common.seed, s.score, a.common.batch);
  mopt.check_image(in.x.size(2), in.x.size(3), metric_names(which));  // before any work
  require(a.metrics.mask.empty() || a.metrics.boxes.empty(),
          "give at most one of --mask and --boxes");
  const std::vector<at::Tensor> file_masks =
      a.metrics.mask.empty() ? std::vector<at::Tensor>() : read_mask_file(a.metrics.mask, in.x);
  mopt.pf = s;  // deletion / insertion: the run's patches, patch scores and schedule
  if (!a.relevance.empty()) {
    rel = read_npy(a.relevance);
    if (rel.dim() == in.x.dim() - 1) rel = rel.unsqueeze(0);
    require(rel.sizes() == in.x.sizes(),
            "--relevance " + a.relevance + ": shape " + std::string(c10::str(rel.sizes())) +
                " differs from the input's " + std::string(c10::str(in.x.sizes())));
    require(at::isfinite(rel).all().item<bool>(),
            "--relevance " + a.relevance + ": holds NaN or infinite values");
    const at::Tensor logits = forward(m.net, in.x.to(device)).to(at::kCPU);
    for (size_t i = 0; i < targets.size(); ++i)
      if (targets[i] < 0) targets[i] = logits[static_cast<int64_t>(i)].argmax().item<int64_t>();
  }
  std::optional<Composite> composite;
  if (!a.composite.empty()) {
    composite = parse_composite(a.composite, m.loaded.net);
    rel = explain_in_batches(m.net, in.x, targets, *composite, a.common.batch);
  }
  for (int64_t t : targets)
    require(t < m.net.num_classes,
            "--target " + std::to_string(t) + " is not a class of " + m.net.arch);
  std::vector<int64_t> seeds;
  for (size_t i = 0; i < in.ids.size(); ++i)
    seeds.push_back(in.ids[i].is_number_integer() ? in.ids[i].get<int64_t>()
                                                  : static_cast<int64_t>(i));
  // Metrics are checked (masks, explanations) before anything is written.
  std::vector<MetricValues> values;
  if (!which.empty()) {
    std::function<at::Tensor(const at::Tensor&, size_t)> explainer;
    if (composite)
      explainer = [&](const at::Tensor& inputs, size_t i) {
        std::vector<int64_t> t(static_cast<size_t>(inputs.size(0)), targets[i]);
        return explain_in_batches(m.net, inputs.to(at::kCPU), t, *composite, a.common.batch)
            .unsqueeze(1);
      };
    values = score_metrics(m.net, in.x, rel, targets, seeds,
                           load_masks(a.metrics, m.net, in, targets, file_masks),
                           explainer, which, mopt);
  }
  make_dir(a.out);
  const Evaluation e = evaluate_explanations(m.net, in.x, rel, targets, seeds, orders, s);
  write_outputs(a, m.net, in, e, s, rel, targets, seeds,
                which.empty() ? nlohmann::json() : metrics_json(which, values, in));
  for (size_t k = 0; k < which.size(); ++k) {
    const auto [mean, undefined] = mean_defined(values[k]);
    std::cout << which[k]->name << ": "
              << (mean ? std::to_string(*mean) : std::string("undefined"))
              << (undefined ? "  (" + std::to_string(undefined) + " undefined)" : "") << "\n";
  }
  for (size_t o = 0; o < orders.size(); ++o)
    std::cout << order_name(orders[o]) << ": auc " << e.batch[o].auc << "  aopc " << e.batch[o].aopc
              << "\n";
  std::cout << "cache: " << e.stats.hits() << " hits, " << e.stats.forwards << " forwards; wrote "
            << a.out << "/curve.csv, evaluate.json, curve.png, perturbed.png\n";
}

}  // namespace

void add_evaluate_command(CLI::App& app) {
  auto args = std::make_shared<EvaluateArgs>();
  CLI::App* sub = app.add_subcommand(
      "evaluate",
      "score explanations by pixel-flipping: curve.csv, evaluate.json, curve.png and "
      "perturbed.png in --out");
  add_model_run_options(sub, args->common, args->input);
  sub->add_option("--relevance", args->relevance, "relevance .npy (the input's shape)");
  sub->add_option("--composite", args->composite, "explain on the fly with this composite");
  sub->add_option("--target", args->target, "auto (default), argmax, or a class index");
  sub->add_option("--order", args->orders, "comma list of morf, lrf, random (default morf)");
  add_pf_options(sub, args->pf);
  add_metric_options(sub, args->metrics);
  sub->add_option("--out", args->out, "output directory")->required();
  sub->callback([args] { run_evaluate(*args); });
}

}  // namespace lrpbench
