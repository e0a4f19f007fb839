#include <ATen/ATen.h>

#include <algorithm>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/common.h"
#include "data/image.h"
#include "lrp/composite.h"
#include "lrp/engine.h"
#include "report/heatmap.h"
#include "util/error.h"
#include "util/file.h"
#include "util/npy.h"

namespace lrpbench {
namespace {

struct ExplainArgs {
  CommonOptions common;
  InputSpec input;
  std::string composite = "tutorial";
  std::string target = "auto";
  std::string out;
  HeatmapStyle style;
};

// Per rule-carrying node: top first for index-form models (the VGGs, as before), in
// execution order with names for graph models.
nlohmann::json diagnostics_json(const nlohmann::json& id, const Diagnostics& d, bool by_index) {
  nlohmann::json layers = nlohmann::json::array();
  for (const LayerDiagnostics& l : d.layers)
    layers.push_back({{"name", l.name},
                      {"index", l.index >= 0 ? nlohmann::json(l.index) : nlohmann::json()},
                      {"kind", l.kind},
                      {"rule", l.rule},
                      {"relevance_sum", l.relevance_sum},
                      {"conservation_error", l.conservation_error}});
  if (!by_index) std::reverse(layers.begin(), layers.end());
  return {{"image", id},
          {"target", d.target},
          {"logit", d.logit},
          {"relevance_sum", d.relevance_sum},
          {"conservation_error", d.conservation_error},
          {"relevance_min", d.relevance_min},
          {"relevance_max", d.relevance_max},
          {"nonfinite", d.nonfinite},
          {"negative_logit", d.negative_logit},
          {"layers", layers}};
}

std::string id_text(const nlohmann::json& id) {
  return id.is_string() ? id.get<std::string>() : id.dump();
}

void run_explain(const ExplainArgs& a) {
  require(!a.out.empty(), "--out: an output directory is required");
  check_heatmap_style(a.style);
  const at::Device device = setup_runtime(a.common);
  const PreparedModel m = prepare_model(a.common, device);
  const Composite composite = parse_composite(a.composite, m.loaded.net);
  const InputBatch in = load_inputs(a.input, m.net);
  const std::vector<int64_t> targets = resolve_targets(a.target, in);
  const int64_t n = in.x.size(0);
  auto heatmap_name = [&](int64_t i) {
    return n == 1 ? std::string("heatmap.png")
                  : "heatmap_" + id_text(in.ids[static_cast<size_t>(i)]) + ".png";
  };
  std::vector<std::string> outputs = {"relevance.npy", "explain.json"};
  for (int64_t i = 0; i < n; ++i) outputs.push_back(heatmap_name(i));
  check_output_dir(a.out, outputs);  // before any work: nothing but regular files is replaced
  make_dir(a.out);

  std::vector<int64_t> resolved = targets;
  std::vector<Diagnostics> diags;
  const at::Tensor rel =
      explain_in_batches(m.net, in.x, resolved, composite, a.common.batch, &diags);
  nlohmann::json images = nlohmann::json::array();
  for (int64_t i = 0; i < n; ++i) {
    const Diagnostics& d = diags[static_cast<size_t>(i)];
    images.push_back(diagnostics_json(in.ids[static_cast<size_t>(i)], d, m.net.shape().by_index));
    if (d.negative_logit)
      std::cerr << "lrpbench: warning: image " << id_text(in.ids[static_cast<size_t>(i)])
                << ": negative target logit " << d.logit << " flips the sign of the relevance\n";
    if (d.nonfinite > 0)
      std::cerr << "lrpbench: warning: image " << id_text(in.ids[static_cast<size_t>(i)]) << ": "
                << d.nonfinite << " non-finite relevance values\n";
  }
  write_npy(a.out + "/relevance.npy", in.batched ? rel : rel[0]);
  for (int64_t i = 0; i < n; ++i) {
    write_png(a.out + "/" + heatmap_name(i), render_heatmap(rel[i], in.pixels[i], a.style));
  }
  const nlohmann::json j = {{"composite", canonical_form(composite, m.loaded.net)},
                            {"model", m.loaded.net.arch},
                            {"weights", m.loaded.weights},
                            {"images", images}};
  write_json_file(a.out + "/explain.json", j);
  for (const auto& img : images)
    std::cout << "image " << id_text(img["image"]) << ": target " << img["target"].get<int64_t>()
              << " logit " << img["logit"].get<double>() << " relevance sum "
              << img["relevance_sum"].get<double>() << "\n";
  std::cout << "wrote " << a.out << "/relevance.npy, heatmap(s) and explain.json\n";
}

}  // namespace

void add_explain_command(CLI::App& app) {
  auto args = std::make_shared<ExplainArgs>();
  CLI::App* sub = app.add_subcommand("explain",
                                     "explain images with LRP: relevance.npy, heatmap "
                                     "PNG(s) and explain.json in --out");
  add_model_run_options(sub, args->common, args->input);
  sub->add_option("--composite", args->composite,
                  "composite spec (default tutorial); see `lrpbench composites`");
  sub->add_option("--target", args->target,
                  "auto (default: the dataset label, else the argmax), argmax, or a class index");
  sub->add_option("--out", args->out, "output directory")->required();
  sub->add_option("--heatmap-norm", args->style.norm, "symmetric (default) or absolute");
  sub->add_option("--cmap", args->style.cmap, "bwr (default) or coldnhot");
  sub->add_flag("--overlay", args->style.overlay, "blend the heatmap onto the image");
  sub->callback([args] { run_explain(*args); });
}

}  // namespace lrpbench
