#include "search/runner.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <c10/core/InferenceMode.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <map>
#include <set>

#include "data/fashion_mnist.h"
#include "data/image.h"
#include "data/image_folder.h"
#include "data/input.h"
#include "data/loc_csv.h"
#include "lrp/composite.h"
#include "lrp/engine.h"
#include "model/canonize.h"
#include "model/weights.h"
#include "perturbation/auc.h"
#include "perturbation/curves.h"
#include "search/cmaes.h"
#include "search/nsga2.h"
#include "search/sampling.h"
#include "search/stored_run.h"
#include "search/winners.h"
#include "util/error.h"
#include "util/file.h"
#include "util/sha256.h"

namespace lrpbench {
namespace {

namespace fs = std::filesystem;

void load_images(const Experiment& exp, const Network& net, Plan& plan,
                 std::vector<std::pair<std::string, ResizeGeometry>>* files) {
  const DataSpec& d = exp.data;
  std::vector<at::Tensor> pixels;
  if (!d.dataset.empty()) {
    // Normalising would broadcast the 1-channel images over a 3-channel model's channels.
    require(net.in_channels == 1,
            exp.source + ": [data] dataset " + d.dataset +
                " holds 1-channel 28 x 28 images, but model '" + exp.model + "' expects " +
                std::to_string(net.in_channels) + " channels");
    const Dataset ds = load_fashion_mnist(d.split);
    for (int64_t i = 0; i < ds.images.size(0); ++i) {
      if (d.class_index >= 0 && ds.labels[static_cast<size_t>(i)] != d.class_index) continue;
      pixels.push_back(ds.images[i]);
      plan.images.push_back({static_cast<int64_t>(plan.images.size()), std::to_string(i),
                             ds.labels[static_cast<size_t>(i)], -1});
      if (d.count > 0 && static_cast<int64_t>(pixels.size()) == d.count) break;
    }
    require(!pixels.empty(),
            exp.source + ": no Fashion-MNIST image of class " + std::to_string(d.class_index));
  } else {
    const std::vector<ImageRef> refs =
        !d.imagenet.empty() ? list_imagenet_folder(d.imagenet, d.class_index, d.count)
                            : list_flat_folder(d.folder, d.labels, d.class_index, d.count);
    for (const ImageRef& r : refs) {
      ResizeGeometry g;
      pixels.push_back(load_image(r.path, net.in_channels, d.resize, net.default_size, &g));
      files->push_back({fs::path(r.path).stem().string(), g});
      require(pixels.back().sizes() == pixels.front().sizes(),
              r.path + ": image size differs from the others; set [data] resize");
      plan.images.push_back(
          {static_cast<int64_t>(plan.images.size()), nlohmann::json(r.id).dump(), r.label, -1});
    }
  }
  if (d.count > 0)
    require(static_cast<int64_t>(pixels.size()) == d.count,
            exp.source + ": [data] count = " + std::to_string(d.count) + " but only " +
                std::to_string(pixels.size()) + " images match");
  plan.x = normalize(at::stack(pixels), net.mean, net.std);
  check_input(net, plan.x, exp.source);
}

void resolve_targets(const Experiment& exp, Plan& plan) {
  c10::InferenceMode guard;
  const at::Tensor logits = forward(plan.net, plan.x.to(plan.net.device())).to(at::kCPU);
  for (ImageRow& im : plan.images) {
    const std::string& t = exp.data.target;
    if (t == "auto" && im.label >= 0)
      im.target = im.label;
    else if (t == "auto" || t == "argmax")
      im.target = logits[im.id].argmax().item<int64_t>();
    else
      im.target = std::stoll(t);
    require(im.target < plan.net.num_classes, exp.source + ": target " + std::to_string(im.target) +
                                                  " is not a class of " + plan.net.arch);
  }
}

// Ground-truth masks for the localisation metrics: the Fashion-MNIST foreground, or the target
// class's boxes ([data] boxes, else a folder's labels file) mapped like the pixels.
void load_masks(const Experiment& exp, const std::vector<std::pair<std::string, ResizeGeometry>>& files,
                Plan& plan) {
  const Metric* needs = nullptr;
  for (const Metric* m : plan.extra)
    if (m->needs == MetricNeeds::Mask) needs = m;
  if (!needs) return;
  const std::string boxes_file = !exp.data.boxes.empty() ? exp.data.boxes : exp.data.labels;
  if (!files.empty() && !boxes_file.empty()) {
    const auto boxes = parse_loc_boxes(read_file(boxes_file, "[data] boxes", kMaxLabelFileBytes),
                                       boxes_file);
    for (const ImageRow& im : plan.images) {
      const auto& [id, g] = files[static_cast<size_t>(im.id)];
      const auto it = boxes.find(id);
      plan.masks.push_back(it == boxes.end() ? at::Tensor() : box_mask(it->second, im.target, g));
    }
  } else {
    for (const ImageRow& im : plan.images) plan.masks.push_back(fashion_foreground(plan.net, plan.x[im.id]));
  }
  require(std::any_of(plan.masks.begin(), plan.masks.end(),
                      [](const at::Tensor& t) { return t.defined(); }),
          exp.source + ": [metrics] list: " + needs->name +
              " needs ground-truth masks ([data] boxes = LOC_val_solution.csv for ImageNet "
              "images; Fashion-MNIST inputs use their foreground)");
}

// The parameters of a template in groups that share a part of it (parts: its ';'-separated
// layer assignments, outside parentheses), as indices in parameter order. A part's rule sees
// only its own values, so the composite parses at a point when every part does.
std::vector<std::vector<size_t>> coupled_params(const Family& f) {
  std::vector<std::string> parts(1);
  int depth = 0;
  for (char ch : f.templ) {
    depth += (ch == '(' || ch == '[') - (ch == ')' || ch == ']');
    if (ch == ';' && depth == 0)
      parts.emplace_back();
    else
      parts.back() += ch;
  }
  const std::vector<std::string> names = f.param_names();
  std::vector<size_t> group(names.size());
  for (size_t k = 0; k < group.size(); ++k) group[k] = k;
  for (const std::string& part : parts) {
    std::vector<size_t> in;
    for (const std::string& n : template_placeholders(part, f.name))
      in.push_back(static_cast<size_t>(std::find(names.begin(), names.end(), n) - names.begin()));
    for (size_t k = 1; k < in.size(); ++k) {  // merge the groups of in[0] and in[k]
      const size_t from = group[in[k]], to = group[in[0]];
      for (size_t& g : group)
        if (g == from) g = to;
    }
  }
  std::map<size_t, std::vector<size_t>> by_group;
  for (size_t k = 0; k < group.size(); ++k) by_group[group[k]].push_back(k);
  std::vector<std::vector<size_t>> out;
  for (auto& [g, members] : by_group) out.push_back(members);
  return out;
}

// Every corner of a family's box must give a composite for the model: checked before anything
// runs, so that a refused experiment leaves no store. Up to 12 parameters, all 2^d corners;
// beyond, the corners of each group of coupled parameters (coupled_params) with the others at
// their lower end (a group of more than 12: its all-low and all-high corners only).
void check_corners(const Experiment& exp, const Family& f, const Plan& plan) {
  const size_t d = f.params.size();
  std::vector<std::vector<size_t>> groups = coupled_params(f);
  if (d <= 12) {  // one group: every corner
    groups.assign(1, {});
    for (size_t k = 0; k < d; ++k) groups[0].push_back(k);
  }
  std::set<std::vector<bool>> checked;
  for (const std::vector<size_t>& members : groups) {
    const size_t m = members.size();
    const uint64_t corners = m <= 12 ? (uint64_t{1} << m) : 2;
    for (uint64_t c = 0; c < corners; ++c) {
      std::vector<bool> high(d, false);
      for (size_t k = 0; k < m; ++k) high[members[k]] = m <= 12 ? ((c >> k) & 1) != 0 : c == 1;
      if (!checked.insert(high).second) continue;
      std::vector<double> v;
      std::string where;
      for (size_t k = 0; k < d; ++k) {
        v.push_back(value_at(f.params[k], high[k] ? std::nextafter(1.0, 0.0) : 0.0));
        where += (k ? ", " : "") + f.params[k].name + "=" + format_number(v.back());
      }
      const std::string spec = f.composite(v);
      try {
        parse_composite(spec, plan.loaded.net);
      } catch (const InputError& e) {
        throw InputError(exp.source + ":" + std::to_string(f.line) +
                         ": key 'family.template': at " + where + " the composite '" + spec +
                         "' does not parse: " + e.what());
      }
    }
  }
}

// The configurations of family `fi`: its grid points, or its sampled trials.
void add_family(const Experiment& exp, size_t fi, Plan& plan) {
  const Family& f = exp.families[fi];
  if (!f.builtin) check_corners(exp, f, plan);
  const std::vector<std::vector<double>> points = family_points(exp, fi);
  const bool grid = exp.search.draw() == Strategy::Grid;
  std::vector<std::vector<double>> axes;
  for (const ParamDecl& p : f.params) axes.push_back(grid ? p.values() : std::vector<double>());
  for (size_t i = 0; i < points.size(); ++i) {
    ConfigRow c;
    c.id = static_cast<int64_t>(plan.configs.size());
    c.family = f.name;
    c.point = grid ? "grid" : "trial";
    c.params = points[i];
    if (grid && f.params.size() == 2) {  // a two-axis grid: positions and values
      const std::vector<size_t> at = f.grid_point(i);
      c.i1 = static_cast<int64_t>(at[0]);
      c.i2 = static_cast<int64_t>(at[1]);
      c.param1 = points[i][0];
      c.param2 = points[i][1];
    }
    c.spec = f.composite(points[i]);
    try {
      plan.composites.push_back(parse_composite(c.spec, plan.loaded.net));
    } catch (const InputError& e) {
      throw InputError(exp.source + ":" + std::to_string(f.line) + ": family '" + f.name +
                       "': the composite '" + c.spec + "' does not parse: " + e.what());
    }
    c.config = canonical_form(plan.composites.back(), plan.loaded.net);
    plan.configs.push_back(c);
  }
}

// Composites per explain call: bounded so that the widest layer's rows stay ~16 M floats. A
// row's widest activation is estimated from the graph (channels x resolution^2 of each conv
// and BatchNorm output, scaled from the default input size to x's); where the graph gives no
// resolution, 64 channels at the input's size stand in.
size_t composite_chunk(const Network& net, const at::Tensor& x) {
  const int64_t pixels = x.size(2) * x.size(3);
  int64_t per_row = x.size(1) * pixels;
  bool known = net.default_size > 0;
  for (const Layer& l : net.layers) {
    if (l.kind != LayerKind::Conv2d && l.kind != LayerKind::BatchNorm2d) continue;
    const int64_t channels = l.weight.defined() ? l.weight.size(0) : l.out_channels;
    known = known && l.resolution > 0 && channels > 0;
    if (!known) break;
    const double scale = static_cast<double>(pixels) /
                         static_cast<double>(net.default_size * net.default_size);
    per_row = std::max(per_row, static_cast<int64_t>(std::ceil(
                                    static_cast<double>(channels * l.resolution *
                                                        l.resolution) * scale)));
  }
  if (!known) per_row = pixels * x.size(1) * 64;
  return static_cast<size_t>(std::clamp<int64_t>((int64_t(1) << 24) / per_row, 1, 4096));
}

class Progress {
 public:
  // `what`: the items counted ("curves", or "values" with metrics beside the curves).
  Progress(int64_t total_curves, int64_t done_curves, std::string what)
      : what_(std::move(what)),
        total_(total_curves),
        done_(done_curves),
        start_done_(done_curves),
        tty_(isatty(STDERR_FILENO)),
        start_(std::chrono::steady_clock::now()),
        last_(start_) {}
  void add(int64_t curves) {
    done_ += curves;
    const auto now = std::chrono::steady_clock::now();
    const double since = std::chrono::duration<double>(now - last_).count();
    if (!tty_ && since < 10.0 && done_ < total_) return;
    last_ = now;
    const double el = std::chrono::duration<double>(now - start_).count();
    const double rate = el > 0 ? static_cast<double>(done_ - start_done_) / el : 0;
    const double eta = rate > 0 ? static_cast<double>(total_ - done_) / rate : 0;
    const double frac = total_ > 0 ? static_cast<double>(done_) / static_cast<double>(total_) : 1;
    char line[200];
    if (tty_) {
      std::string bar(30, ' ');
      for (int i = 0; i < static_cast<int>(frac * 30); ++i) bar[static_cast<size_t>(i)] = '#';
      std::snprintf(line, sizeof line, "\r[%s] %lld/%lld %s  %.0f %s/s  ETA %.0f s   ",
                    bar.c_str(), static_cast<long long>(done_), static_cast<long long>(total_),
                    what_.c_str(), rate, what_.c_str(), eta);
      std::cerr << line << std::flush;
      if (done_ >= total_) std::cerr << "\n";
    } else {
      std::snprintf(
          line, sizeof line, "search: %lld/%lld %s (%.1f%%), %.0f %s/s, ETA %.0f s\n",
          static_cast<long long>(done_), static_cast<long long>(total_), what_.c_str(), 100 * frac,
          rate, what_.c_str(), eta);
      std::cerr << line << std::flush;
    }
  }

 private:
  std::string what_;
  int64_t total_, done_, start_done_;
  bool tty_;
  std::chrono::steady_clock::time_point start_, last_;
};

}  // namespace

Plan make_plan(const Experiment& exp, const at::Device& device) {
  Plan plan;
  plan.exp = exp;
  plan.loaded = load_model(exp.model, exp.weights, exp.pf.seed, exp.normalize);
  plan.net = canonize(plan.loaded.net).to(device);
  std::vector<std::pair<std::string, ResizeGeometry>> files;
  load_images(exp, plan.net, plan, &files);
  try {
    exp.metric_options.check_image(plan.x.size(2), plan.x.size(3), exp.extra_metrics());
  } catch (const InputError& e) {
    throw InputError(exp.source + ": [metrics] " + e.what());
  }
  resolve_targets(exp, plan);
  for (const std::string& name : exp.extra_metrics()) plan.extra.push_back(&find_metric(name));
  load_masks(exp, files, plan);
  if (plan.exp.pf.patch == 0) plan.exp.pf.patch = default_patch(plan.x.size(2), plan.x.size(3));
  make_grid(plan.x.size(2), plan.x.size(3), plan.exp.pf.patch);
  if (!exp.search.evolves())  // CMA-ES and NSGA-II draw their configurations as they go
    for (size_t fi = 0; fi < exp.families.size(); ++fi) add_family(exp, fi, plan);
  else
    for (const Family& f : exp.families) check_corners(exp, f, plan);
  for (const std::string& r : exp.references) {
    ConfigRow c;
    c.id = static_cast<int64_t>(plan.configs.size());
    c.point = "reference";
    c.spec = r;
    try {
      plan.composites.push_back(parse_composite(r, plan.loaded.net));
      c.config = canonical_form(plan.composites.back(), plan.loaded.net);
    } catch (const InputError& e) {
      throw InputError(exp.source + ": [reference] points: " + e.what());
    }
    plan.configs.push_back(c);
  }
  plan.search_images = static_cast<int64_t>(plan.images.size()) - exp.data.holdout;
  require(plan.search_images > 0,
          exp.source + ": key 'data.holdout': must be less than the image count (" +
              std::to_string(plan.images.size()) + ")");
  plan.units = plan_units(exp, static_cast<int64_t>(plan.images.size()));
  return plan;
}

std::vector<int64_t> unit_config_ids(const Plan& plan, const UnitRow& unit) {
  std::vector<int64_t> ids;
  if (unit.family == "holdout") {
    for (int64_t id : plan.holdout_configs)
      if (id >= 0) ids.push_back(id);
    return ids;
  }
  for (const ConfigRow& c : plan.configs)
    if (unit.family == "reference" ? c.point == "reference"
                                   : (c.point != "reference" && c.family == unit.family &&
                                      (plan.survivors.empty() || plan.survivors.count(c.id))))
      ids.push_back(c.id);
  return ids;
}

void learn_config(Plan& plan, const ConfigRow& c) {
  const auto at = static_cast<size_t>(c.id);
  if (at < plan.configs.size() && plan.configs[at].spec == c.spec) return;
  if (plan.configs.size() <= at) {
    plan.configs.resize(at + 1);
    plan.composites.resize(at + 1);
  }
  plan.composites[at] = parse_composite(c.spec, plan.loaded.net);
  plan.configs[at] = c;
}

namespace {

// Relevance of inputs S x C x H x W for `target` under every configuration, in fixed chunks
// of composites: S x K x C x H x W on the CPU.
at::Tensor explain_configs(const Plan& plan, const std::vector<const ConfigRow*>& configs,
                           const at::Tensor& inputs, int64_t target, UnitStats* stats) {
  std::vector<at::Tensor> parts;
  const size_t chunk =
      std::max<size_t>(1, composite_chunk(plan.net, inputs) / static_cast<size_t>(inputs.size(0)));
  for (size_t c0 = 0; c0 < configs.size(); c0 += chunk) {
    std::vector<Composite> comps;
    for (size_t c = c0; c < std::min(configs.size(), c0 + chunk); ++c)
      comps.push_back(plan.composites[static_cast<size_t>(configs[c]->id)]);
    const std::vector<int64_t> targets(static_cast<size_t>(inputs.size(0)), target);
    const Explanation ex =
        explain(plan.net, inputs.to(plan.net.device()), targets, comps, ExplainOptions{false});
    parts.push_back(ex.relevance.to(at::kCPU));
    if (stats) {
      stats->composites += static_cast<int64_t>(comps.size());
      stats->backward_rows += ex.shared_rows;
    }
  }
  return at::cat(parts, 1);
}

// The metrics beside the curves, for every configuration of the unit at once.
std::vector<MetricRow> unit_metrics(const Plan& plan, const std::vector<const ConfigRow*>& configs,
                                    const ImageRow& im, const at::Tensor& rel) {
  std::vector<MetricRow> out;
  if (plan.extra.empty()) return out;
  MetricImage img;
  img.net = &plan.net;
  img.x = plan.x.narrow(0, im.id, 1).to(plan.net.device());
  img.target = im.target;
  img.index = seed_index(im);
  if (!plan.masks.empty()) img.mask = plan.masks[static_cast<size_t>(im.id)];
  img.explain = [&](const at::Tensor& inputs) {
    return explain_configs(plan, configs, inputs, im.target, nullptr);
  };
  const MetricOptions opt = plan.exp.metric_settings();
  for (const Metric* m : plan.extra) {
    const MetricValues v = m->score(img, rel, opt);
    for (size_t c = 0; c < configs.size(); ++c) out.push_back({configs[c]->id, im.id, m->name, v[c]});
  }
  return out;
}

}  // namespace

UnitResult compute_unit(const Plan& plan, const UnitRow& unit, UnitStats* stats) {
  return compute_unit(plan, unit, unit_config_ids(plan, unit), stats);
}

UnitResult compute_unit(const Plan& plan, const UnitRow& unit, const std::vector<int64_t>& ids,
                        UnitStats* stats) {
  std::vector<const ConfigRow*> configs;
  for (int64_t id : ids) configs.push_back(&plan.configs.at(static_cast<size_t>(id)));
  const ImageRow& im = plan.images.at(static_cast<size_t>(unit.image_id));
  const at::Tensor x = plan.x.narrow(0, im.id, 1);
  const at::Tensor rel = explain_configs(plan, configs, x, im.target, stats)[0];  // K x C x H x W
  UnitResult out;
  if (!plan.exp.orders.empty()) {
    const ImageContext ctx =
        make_context(x[0], plan.net.mean, plan.net.std, plan.exp.pf.patch, seed_index(im));
    PFImageJobs jobs{&ctx, im.target, {}};
    for (size_t c = 0; c < configs.size(); ++c)
      for (Order o : plan.exp.orders) jobs.jobs.push_back({o, rel[static_cast<int64_t>(c)]});
    const PFOutcome pf = score_curves(plan.net, {jobs}, plan.exp.pf);
    if (stats) {
      stats->points += pf.stats.points;
      stats->forwards += pf.stats.forwards;
    }
    for (size_t c = 0; c < configs.size(); ++c)
      for (size_t o = 0; o < plan.exp.orders.size(); ++o) {
        const PFCurve& curve = pf.curves[0][c * plan.exp.orders.size() + o];
        const CurveScores s = score_curve(curve.scores, curve.fraction);
        out.curves.push_back({configs[c]->id, im.id, order_name(plan.exp.orders[o]), curve.scores,
                              s.auc, s.aopc, s.auc_normalized});
      }
  }
  out.metrics = unit_metrics(plan, configs, im, rel);
  return out;
}

int64_t seed_index(const ImageRow& image) {
  const bool numeric = image.image.find_first_not_of("0123456789") == std::string::npos;
  return numeric ? std::stoll(image.image) : image.id;
}

std::string run_definition(const Experiment& exp, const at::Device& device) {
  nlohmann::json d = exp.definition();
  d["device"] = device.str();
  d["threads"] = at::get_num_threads();
  d["lrpbench"] = LRPBENCH_VERSION;
  d["rules"] = kRulesVersion;
  // The bytes of the model and weights files: a file changed under a store is another
  // experiment (built-in models without files add nothing, keeping older definitions).
  if (is_model_file(exp.model)) d["model_sha256"] = sha256_file(exp.model);
  if (!exp.weights.empty()) d["weights_sha256"] = sha256_file(exp.weights);
  return d.dump();
}

void parse_shard(const std::string& text, int* index, int* count) {
  const auto slash = text.find('/');
  const std::string i = slash == std::string::npos ? "" : text.substr(0, slash);
  const std::string n = slash == std::string::npos ? "" : text.substr(slash + 1);
  // At most 9 digits a side: N < 10^9 fits an int, so no stoi overflow.
  auto digits = [](const std::string& s) {
    return !s.empty() && s.size() <= 9 && s.find_first_not_of("0123456789") == std::string::npos;
  };
  bool ok = digits(i) && digits(n);
  if (ok) {
    *index = std::stoi(i);
    *count = std::stoi(n);
    ok = *count > 0 && *index < *count;
  }
  require(ok, "--shard: expected I/N with 0 <= I < N < 10^9, got '" + text + "'");
}

namespace {

const char* kStoreName = "/results.sqlite";

// Refuses `store` where the rows it holds of the plan (images, the configurations known before
// the search runs) differ from `plan`'s: its definition is the experiment's, so a difference
// is damage.
void check_same_plan(const Store& store, const Plan& plan) {
  const std::vector<ImageRow> images = store.images();
  const std::vector<ConfigRow> configs = store.configs();
  if (images.empty() && configs.empty()) return;  // killed before its plan was written
  if (images.size() != plan.images.size())
    store.refuse("it holds " + std::to_string(images.size()) + " images, the experiment " +
                 std::to_string(plan.images.size()));
  for (size_t i = 0; i < images.size(); ++i) {
    const ImageRow &a = images[i], &b = plan.images[i];
    if (a.image != b.image || a.label != b.label || a.target != b.target)
      store.refuse("image " + std::to_string(i) + " (" + a.image + ", label " +
                   std::to_string(a.label) + ", target " + std::to_string(a.target) +
                   ") is not the experiment's (" + b.image + ", label " +
                   std::to_string(b.label) + ", target " + std::to_string(b.target) + ")");
  }
  for (size_t i = 0; i < plan.configs.size() && i < configs.size(); ++i) {
    const ConfigRow &a = configs[i], &b = plan.configs[i];
    if (a.family != b.family || a.point != b.point || a.spec != b.spec || a.config != b.config ||
        a.params != b.params)
      store.refuse("configuration " + std::to_string(i) + " ('" + a.spec + "' = '" + a.config +
                   "') is not the experiment's ('" + b.spec + "' = '" + b.config + "')");
  }
}

// The files a search or merge writes in RUN: anything there that is not a regular file (a
// FIFO, a device, a folder, a link) is refused before any work.
void check_run_outputs(const std::string& run) {
  check_output_dir(run, {"results.sqlite", "results.sqlite-wal", "results.sqlite-shm",
                         "results.sqlite-journal", ".lock"});
}

// Opens RUN's store for `definition`: a new one, or the existing one when it passes its
// checks (open_stored_run; with `plan`, also check_same_plan) and was made by the same
// experiment and settings. With force, a store that fails either is replaced. Everything is
// checked before anything is written to an existing store.
std::unique_ptr<Store> open_store(const std::string& run, const std::string& definition,
                                  bool force, const Plan* plan) {
  const std::string path = run + kStoreName;
  const std::string way_out = "use --force to replace it, or another --out";
  auto remove_store = [&] {
    std::error_code ignored;
    for (const char* suffix : {"", "-wal", "-shm"}) fs::remove(path + suffix, ignored);
  };
  std::unique_ptr<Store> store;
  std::error_code ec;
  const auto size = fs::file_size(path, ec);  // a directory there is refused by the Store
  if (fs::exists(path, ec) && (ec || size > 0)) {
    try {
      store = open_stored_run(path, Store::Mode::ReadWrite, way_out, definition).store;
    } catch (const InputError&) {
      if (!force) throw;
      store.reset();
      remove_store();
    }
  } else {
    remove_store();  // an empty file, or a stale -wal / -shm without a database
  }
  if (store) {
    const std::string stored = *store->meta("definition");
    if (stored == definition) {
      try {
        if (plan) check_same_plan(*store, *plan);
        store->add_missing_tables();
        return store;
      } catch (const InputError&) {
        if (!force) throw;
      }
    } else {
      const nlohmann::json old = nlohmann::json::parse(stored, nullptr, false);
      const bool same_rules = old.is_object() && old.contains("rules") &&
                              old["rules"].is_number() && old["rules"] == kRulesVersion;
      require(force || same_rules,
              "run '" + run + "' was made with LRP rules version " +
                  (old.is_object() && old.contains("rules") ? old["rules"].dump()
                                                            : std::string("1")) +
                  " (this is version " + std::to_string(kRulesVersion) +
                  ": gamma is the generalised form); use --force to discard its results, or "
                  "another --out");
      require(force, "run '" + run +
                         "' holds results of a different experiment or different settings "
                         "(model, data, grid, PF settings, device or threads); use --force to "
                         "discard them, or another --out");
    }
    store.reset();
    remove_store();
  }
  // A store that cannot be created whole (a full disk) is removed: none is left half-made.
  try {
    store = std::make_unique<Store>(path, Store::Mode::Create, way_out, definition);
  } catch (...) {
    store.reset();
    remove_store();
    throw;
  }
  return store;
}

// LRPBENCH_TRACE_UNITS=FILE: the search appends "begin U" before computing work unit U and
// "commit U" once its transaction is committed (the fault tests use it to know where a
// SIGKILL landed).
class UnitTrace {
 public:
  UnitTrace() {
    const char* path = std::getenv("LRPBENCH_TRACE_UNITS");
    if (path && *path) fd_ = ::open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  }
  ~UnitTrace() {
    if (fd_ >= 0) ::close(fd_);
  }
  void mark(const char* what, int64_t unit) const {
    if (fd_ < 0) return;
    const std::string line = std::string(what) + " " + std::to_string(unit) + "\n";
    if (::write(fd_, line.data(), line.size()) < 0) return;
  }

 private:
  int fd_ = -1;
};

// Runs a batch of work units (a rung, a generation, the held-out images): in this process or
// over MPI ranks. The caller checks the store afterwards: a batch can stop early (--max-units).
using RunUnits = std::function<void(const std::vector<const UnitRow*>&)>;

// Whether every unit that `keep` selects is done.
bool all_done(const Plan& plan, const Store& store, const std::function<bool(const UnitRow&)>& keep) {
  const std::set<int64_t> done = store.done_units();
  for (const UnitRow& u : plan.units)
    if (keep(u) && !done.count(u.id)) return false;
  return true;
}

// Runs the pending units that `keep` selects, then says whether all of them are done.
bool run_selected(const Plan& plan, const Store& store, const RunUnits& run,
                  const std::function<bool(const UnitRow&)>& keep) {
  const std::set<int64_t> done = store.done_units();
  std::vector<const UnitRow*> pending;
  for (const UnitRow& u : plan.units)
    if (keep(u) && !done.count(u.id)) pending.push_back(&u);
  if (!pending.empty()) run(pending);
  return all_done(plan, store, keep);
}

// Once every search unit of the run is done (all shards: a shard alone leaves it to a search on
// the merged run), the family winners (nsga2: every Pareto point) are scored on the held-out
// images (this process's share of those units).
void holdout_phase(Plan& plan, const Store& store, const SearchOptions& opt, const RunUnits& run) {
  if (plan.exp.data.holdout == 0) return;
  if (!all_done(plan, store, [](const UnitRow& u) { return u.family != "holdout"; })) return;
  plan.holdout_configs.clear();
  if (plan.exp.search.strategy == Strategy::Nsga2) {
    for (const auto& [family, ids] : pareto_from_json(store.meta("pareto").value_or("{}")))
      plan.holdout_configs.insert(plan.holdout_configs.end(), ids.begin(), ids.end());
  } else {
    for (const Winner& w : family_winners(plan.exp, plan.configs, plan.search_images,
                                          store.curves(), store.metric_values()))
      plan.holdout_configs.push_back(w.config);
  }
  run_selected(plan, store, run, [&](const UnitRow& u) {
    return u.family == "holdout" && u.id % opt.shard_count == opt.shard_index;
  });
}

// Successive halving: rung k scores the survivors on the images [n_{k-1}, n_k) (n_k =
// min(N, min_images eta^k)); after a rung short of N images the best ceil(n / eta) by the
// objective's mean over the first n_k images survive (ties to the earlier configuration). A
// rung is a barrier; its survivors come from the stored values, so a resumed run replays it.
std::set<int64_t> halve(const Plan& plan, const Store& store, const std::set<int64_t>& alive,
                        int64_t images) {
  const std::map<int64_t, MeanOf> means =
      metric_means(plan.exp, "", images, store.curves(), store.metric_values());
  std::set<int64_t> out;
  for (const Family& f : plan.exp.families) {
    std::vector<std::pair<int64_t, std::optional<double>>> candidates;
    for (int64_t id : alive) {
      if (plan.configs[static_cast<size_t>(id)].family != f.name) continue;
      const auto it = means.find(id);
      candidates.push_back({id, it == means.end() ? std::nullopt : it->second.mean()});
    }
    for (int64_t id : halving_keep(candidates, plan.exp.search.eta, objective_sign(plan.exp)))
      out.insert(id);
  }
  return out;
}

void run_halving(Plan& plan, Store& store, const RunUnits& run) {
  const std::vector<int64_t> rungs =
      halving_rungs(plan.search_images, plan.exp.search.min_images, plan.exp.search.eta);
  std::set<int64_t> alive;
  for (const ConfigRow& c : plan.configs)
    if (c.point != "reference") alive.insert(c.id);
  for (size_t k = 0; k < rungs.size(); ++k) {
    const int64_t from = k == 0 ? 0 : rungs[k - 1];
    if (k > 0) alive = halve(plan, store, alive, from);
    plan.survivors = alive;
    plan.survivors.insert(-1);  // never empty: empty means every configuration
    if (!run_selected(plan, store, run, [&](const UnitRow& u) {
          return u.family != "holdout" && u.image_id >= from && u.image_id < rungs[k];
        }))
      return;  // the rung must be complete before the next
  }
  plan.survivors.clear();
  run_selected(plan, store, run, [&](const UnitRow& u) {  // the held-out images' references
    return u.family != "holdout" && u.image_id >= plan.search_images;
  });
}

// The population of an evolutionary strategy over family f.
int64_t evolver_population(const Experiment& exp, const Family& f) {
  if (exp.search.strategy == Strategy::Nsga2) return exp.search.nsga2_population();
  return exp.search.population > 0 ? exp.search.population : cmaes_population(f.params.size());
}

// The evolutionary strategy of a family (search/evolver.h), seeded by the run's seed and the
// family's name.
std::unique_ptr<Evolver> make_evolver(const Experiment& exp, const Family& f) {
  std::vector<double> lo, hi;
  for (const ParamDecl& p : f.params) {
    lo.push_back(p.lower());
    hi.push_back(p.upper());
  }
  uint64_t seed = exp.pf.seed;
  for (char c : f.name) seed = seed * 1099511628211ull + static_cast<unsigned char>(c);
  if (exp.search.strategy == Strategy::Nsga2)
    return std::make_unique<Nsga2Driver>(lo, hi, evolver_population(exp, f),
                                         exp.objectives.size(), seed);
  return std::make_unique<CmaesDriver>(lo, hi, evolver_population(exp, f), seed);
}

// Generation g's points of a family as configurations (ids in generation, family, point
// order); a resumed run checks them against the stored ones.
std::vector<int64_t> add_generation(Plan& plan, const Store& store,
                                    const std::vector<ConfigRow>& stored, const Family& fam,
                                    int64_t g, const std::vector<std::vector<double>>& points,
                                    std::vector<ConfigRow>* fresh) {
  std::vector<int64_t> ids;
  for (const std::vector<double>& u : points) {
    ConfigRow c;
    c.id = static_cast<int64_t>(plan.configs.size());
    c.family = fam.name;
    c.point = "trial";
    c.round = g;
    for (size_t k = 0; k < u.size(); ++k) c.params.push_back(fam.params[k].value(u[k]));
    c.spec = fam.composite(c.params);
    plan.composites.push_back(parse_composite(c.spec, plan.loaded.net));
    c.config = canonical_form(plan.composites.back(), plan.loaded.net);
    require(static_cast<size_t>(c.id) >= stored.size() ||
                stored[static_cast<size_t>(c.id)].spec == c.spec,
            "'" + store.path() + "': generation " + std::to_string(g) +
                " differs from the stored one; use --force to start again");
    plan.configs.push_back(c);
    ids.push_back(c.id);
    fresh->push_back(c);
  }
  return ids;
}

// The minimised objective values of configurations: per objective, the mean over the search
// images, negated where higher is better; undefined: +infinity. A configuration drawn before
// has the values of its first draw (`same`: first_same of the plan's configurations).
std::vector<std::vector<double>> minimised_values(const Plan& plan,
                                                  const std::vector<CurveRow>& curves,
                                                  const std::vector<MetricRow>& metrics,
                                                  const std::vector<int64_t>& same,
                                                  const std::vector<int64_t>& ids) {
  std::vector<std::vector<double>> out(ids.size());
  for (const std::string& name : plan.exp.objective_names()) {
    const std::map<int64_t, MeanOf> means =
        metric_means(plan.exp, name, plan.search_images, curves, metrics);
    const int sign = objective_sign(plan.exp, name);
    for (size_t i = 0; i < ids.size(); ++i) {
      const auto it = means.find(same[static_cast<size_t>(ids[i])]);
      const std::optional<double> mean = it == means.end() ? std::nullopt : it->second.mean();
      out[i].push_back(mean ? -sign * *mean : INFINITY);
    }
  }
  return out;
}

// CMA-ES or NSGA-II per family: generation g's points become configurations, scored as the
// units of generation g (one engine call per image and family for all of them); their
// objective means over the search images are told to each family's algorithm. A generation is
// a barrier; a resumed run replays the draws and checks them against the store. NSGA-II's
// Pareto fronts (rank 0 of the last population, one configuration per canonical form) are
// stored in the meta table.
void run_evolution(Plan& plan, Store& store, const RunUnits& run) {
  const Experiment& exp = plan.exp;
  const size_t nf = exp.families.size();
  const int64_t per_generation = plan.search_images * static_cast<int64_t>(nf);
  std::vector<std::unique_ptr<Evolver>> drivers;
  for (const Family& f : exp.families) drivers.push_back(make_evolver(exp, f));
  std::vector<std::map<std::vector<double>, int64_t>> id_of(nf);  // a point's first config
  const std::vector<ConfigRow> stored = store.configs();
  for (int64_t g = 0; g <= exp.search.generations; ++g) {
    std::vector<std::vector<std::vector<double>>> points(nf);
    std::vector<std::vector<int64_t>> ids(nf);
    std::vector<ConfigRow> fresh;
    plan.survivors = {-1};
    for (size_t f = 0; f < nf; ++f) {
      points[f] = g == 0 ? drivers[f]->initial() : drivers[f]->candidates();
      ids[f] = add_generation(plan, store, stored, exp.families[f], g, points[f], &fresh);
      for (size_t i = 0; i < ids[f].size(); ++i) id_of[f].emplace(points[f][i], ids[f][i]);
    }
    // A canonical form drawn before (in this generation or an earlier one) is not scored again.
    const std::vector<int64_t> same = first_same(plan.configs);
    for (const ConfigRow& c : fresh)
      if (same[static_cast<size_t>(c.id)] == c.id) plan.survivors.insert(c.id);
    store.write_plan(fresh, plan.images, plan.units);
    if (!run_selected(plan, store, run, [&](const UnitRow& u) {
          return u.id >= g * per_generation && u.id < (g + 1) * per_generation;
        }))
      return;
    const std::vector<CurveRow> curves = store.curves();  // read once per generation
    const std::vector<MetricRow> metrics = store.metric_values();
    for (size_t f = 0; f < nf; ++f)
      drivers[f]->tell(points[f], minimised_values(plan, curves, metrics, same, ids[f]));
  }
  plan.survivors.clear();
  if (exp.search.strategy == Strategy::Nsga2) {
    ParetoFronts fronts;
    const std::vector<int64_t> same = first_same(plan.configs);
    for (size_t f = 0; f < nf; ++f) {
      const std::vector<std::vector<double>> pop = drivers[f]->population();
      std::set<int64_t> members;  // the first configuration of each canonical form
      for (size_t i : drivers[f]->front())
        members.insert(same[static_cast<size_t>(id_of[f].at(pop[i]))]);
      fronts[exp.families[f].name].assign(members.begin(), members.end());
    }
    store.set_meta("pareto", pareto_json(fronts));
  }
  run_selected(plan, store, run, [](const UnitRow& u) { return u.family == "reference"; });
}

}  // namespace

int64_t run_search(const Experiment& exp, const at::Device& device, const SearchOptions& opt,
                   const Executor* executor) {
  require(!opt.out.empty(), "--out: a run directory is required");
  require(!exp.search.adaptive() || opt.shard_count == 1,
          "--shard: " + strategy_name(exp.search.strategy) +
              " decides each rung or generation from the previous one; run it in one process "
              "or under mpirun");
  check_run_outputs(opt.out);
  const bool fresh_dir = !fs::exists(opt.out);
  std::error_code ec;
  fs::create_directories(opt.out, ec);
  require(fs::is_directory(opt.out), "--out: cannot create run directory '" + opt.out + "'");
  const RunLock lock(opt.out);
  const std::string definition = run_definition(exp, device);
  // Everything that can be refused is checked before the store exists: a failed validation
  // leaves no store (and no run folder it created) behind.
  Plan plan;
  try {
    plan = make_plan(exp, device);
  } catch (...) {
    if (fresh_dir) fs::remove_all(opt.out, ec);
    throw;
  }
  auto store = open_store(opt.out, definition, opt.force, &plan);
  store->write_plan(plan.configs, plan.images, plan.units);
  // The first experiment file's name is kept: a resume writes nothing before its checks (an
  // evolving run replays its generations against the stored ones below).
  if (!store->meta("experiment_source")) store->set_meta("experiment_source", exp.source);
  const std::set<int64_t> done = store->done_units();
  std::vector<const UnitRow*> pending;
  int64_t total = 0, finished = 0;
  for (const UnitRow& u : plan.units) {
    if (u.id % opt.shard_count != opt.shard_index || u.family == "holdout") continue;
    // CMA-ES and NSGA-II: a generation's unit scores a population drawn later.
    int64_t configs = static_cast<int64_t>(unit_config_ids(plan, u).size());
    if (exp.search.evolves() && u.family != "reference")
      for (const Family& f : exp.families)
        if (f.name == u.family) configs = evolver_population(exp, f);
    const int64_t curves = configs * static_cast<int64_t>(exp.orders.size() + plan.extra.size());
    total += curves;
    if (done.count(u.id))
      finished += curves;
    else
      pending.push_back(&u);
  }
  Progress progress(total, finished, plan.extra.empty() ? "curves" : "values");
  const UnitTrace trace;
  int64_t computed = 0;
  const UnitSink sink = [&](int64_t unit, const UnitResult& result) {
    store->write_unit(unit, result);
    trace.mark("commit", unit);
    ++computed;
    progress.add(static_cast<int64_t>(result.curves.size() + result.metrics.size()));
  };
  const RunUnits run = [&](const std::vector<const UnitRow*>& units) {
    if (executor) return (*executor)(plan, units, sink);
    for (const UnitRow* u : units) {
      if (opt.max_units > 0 && computed >= opt.max_units) return;
      trace.mark("begin", u->id);
      sink(u->id, compute_unit(plan, *u));
    }
  };
  if (exp.search.evolves())
    run_evolution(plan, *store, run);
  else if (exp.search.strategy == Strategy::Halving)
    run_halving(plan, *store, run);
  else
    run(pending);
  holdout_phase(plan, *store, opt, run);
  return computed;
}

MergeSummary merge_runs(const std::vector<std::string>& runs, const std::string& out) {
  require(!runs.empty(), "merge: no runs given");
  check_run_outputs(out);
  // Every source is checked whole before anything is written. Runs of one definition are
  // shards or copies of one deterministic computation (adaptive strategies replay it from the
  // seed), so their configurations agree where both have them: the longest list is the plan,
  // the finished units are their union, and the Pareto front (nsga2) is the one they share.
  std::string definition, plan_run, pareto;
  std::vector<ConfigRow> configs;
  for (const std::string& r : runs) {
    require(fs::exists(r + kStoreName), "merge: '" + r + "' has no results.sqlite");
    std::error_code same_ec;  // the same folder, or the same store file (a hard link)
    require(!fs::equivalent(r, out, same_ec) &&
                !fs::equivalent(r + kStoreName, out + kStoreName, same_ec),
            "merge: '" + r + "' is both a source and --out (merge into another folder)");
    const StoredRun s = open_stored_run(
        r + kStoreName, Store::Mode::Read,
        "merge: run that shard again into a fresh --out (or with --force)");
    const std::string d = *s.store->meta("definition");
    if (definition.empty()) definition = d;
    require(d == definition, "merge: '" + r +
                                 "' was run with a different experiment or settings than '" +
                                 runs.front() + "'");
    const std::vector<ConfigRow> mine = s.store->configs();
    for (size_t i = 0; i < std::min(mine.size(), configs.size()); ++i)
      require(mine[i].spec == configs[i].spec && mine[i].config == configs[i].config &&
                  mine[i].round == configs[i].round && mine[i].params == configs[i].params,
              "merge: '" + r + "' and '" + plan_run + "' differ at configuration " +
                  std::to_string(i) + ": not shards or copies of one run");
    if (plan_run.empty() || mine.size() > configs.size()) {
      configs = mine;
      plan_run = r;
    }
    if (const auto p = s.store->meta("pareto")) {
      require(pareto.empty() || *p == pareto,
              "merge: '" + r + "' holds another Pareto front than the runs before it");
      pareto = *p;
    }
  }
  std::error_code ec;
  fs::create_directories(out, ec);
  require(fs::is_directory(out), "--out: cannot create run directory '" + out + "'");
  const RunLock lock(out);
  auto store = open_store(out, definition, false, nullptr);
  {
    const Store first(plan_run + kStoreName, Store::Mode::Read, "");
    store->write_plan(configs, first.images(), first.units());
    if (auto src = first.meta("experiment_source")) store->set_meta("experiment_source", *src);
  }
  if (!pareto.empty()) store->set_meta("pareto", pareto);
  for (const std::string& r : runs) store->merge_from(r + kStoreName);
  MergeSummary m;
  m.units = static_cast<int64_t>(store->units().size());
  m.done = static_cast<int64_t>(store->done_units().size());
  for (const std::string& r : runs)
    if (RunLock::held_elsewhere(r)) m.in_progress.push_back(r);
  return m;
}

}  // namespace lrpbench
