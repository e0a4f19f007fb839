#include <iostream>
#include <memory>

#include "cli/commands.h"
#include "cli/common.h"
#include "report/report.h"
#include "search/experiment.h"
#include "search/mpi.h"
#include "search/runner.h"
#include "search/store.h"
#include "search/stored_run.h"
#include "util/error.h"
#include "util/limits.h"

namespace lrpbench {
namespace {

struct SearchArgs {
  CommonOptions common;
  std::string experiment, preset, model, normalize, weights, imagenet, out, shard;
  bool force = false;
  int64_t max_units = 0;
};

Experiment experiment_of(const SearchArgs& a) {
  require(a.experiment.empty() != a.preset.empty(),
          "search: give an experiment file or --preset NAME (not both)");
  if (!a.preset.empty())
    return preset_experiment(a.preset, a.weights, a.imagenet, a.model, a.normalize);
  require(a.model.empty() && a.normalize.empty() && a.weights.empty() && a.imagenet.empty(),
          "--model / --normalize / --weights / --imagenet go with --preset; an experiment file "
          "names its own");
  return parse_experiment_file(a.experiment);
}

void run_search_command(const SearchArgs& a, const CLI::App& sub) {
  require(!a.out.empty(), "--out: a run directory is required");
  const at::Device device = setup_runtime(a.common);
  Experiment exp = experiment_of(a);
  // --seed and --batch, when given, override the experiment's [run] values.
  if (sub.count("--seed") > 0) exp.pf.seed = a.common.seed;
  if (sub.count("--batch") > 0) exp.pf.batch = a.common.batch;
  SearchOptions opt;
  opt.out = a.out;
  opt.force = a.force;
  opt.max_units = a.max_units;
  if (!a.shard.empty()) parse_shard(a.shard, &opt.shard_index, &opt.shard_count);
  if (mpi_launched()) {
    run_search_mpi(exp, device, opt);  // rank 0 reports progress; workers stay quiet
    return;
  }
  const int64_t n = run_search(exp, device, opt);
  std::cout << "search: computed " << n << " work unit(s); results in " << a.out
            << "/results.sqlite (lrpbench report " << a.out << ")\n";
}

}  // namespace

void add_search_command(CLI::App& app) {
  auto a = std::make_shared<SearchArgs>();
  CLI::App* sub = app.add_subcommand(
      "search",
      "search LRP hyperparameters (grid, random, sobol, halving, cmaes, nsga2) by PF-AUC and "
      "other metrics into RUN/results.sqlite (resumable)");
  add_common_options(sub, a->common);
  sub->add_option("experiment", a->experiment, "experiment file (TOML)");
  sub->add_option("--preset", a->preset,
                  "fashion-thesis, fashion-thesis-metrics (the same under every metric), "
                  "fashion-halving (successive halving, 25 images held out), fashion-blocks "
                  "(CMA-ES over a rule per block, 25 images held out), fashion-pareto (NSGA-II "
                  "over the same blocks: MoRF AUC against sparseness), vgg16-thesis, fashion-vit-gamma "
                  "(fashion-vit: cp-lrp and attnlrp over 16 x 16 (gc, gl), LXT's 15 points as "
                  "references) or vit-imagenet-gamma (the same on vit_b_16 and ImageNet)");
  sub->add_option("--model", a->model,
                  "model for --preset fashion-thesis(-metrics): fashion-vgg (default), fashion-resnet or a "
                  "1-channel model FILE (TorchScript or ONNX)");
  sub->add_option("--normalize", a->normalize,
                  "input normalisation of --model FILE (default fashion-mnist)");
  sub->add_option("--weights", a->weights,
                  "VGG-16 weights for --preset vgg16-thesis, ViT-B/16 weights for "
                  "vit-imagenet-gamma");
  sub->add_option("--imagenet", a->imagenet,
                  "ImageNet validation folder (val/<wnid>/*.JPEG) for --preset vgg16-thesis or "
                  "vit-imagenet-gamma");
  sub->add_option("--out", a->out, "run directory")->required();
  sub->add_option("--shard", a->shard, "I/N: compute only work units u with u % N == I");
  sub->add_flag("--force", a->force, "discard results of a different experiment in --out");
  add_bounded_option(sub, "--max-units", a->max_units, 0, uint64_t(1) << 40,
                     "stop after this many work units (0: all)");
  sub->footer("--seed and --batch override the experiment's [run] seed and batch.");
  sub->callback([a, sub] { run_search_command(*a, *sub); });

  auto runs = std::make_shared<std::vector<std::string>>();
  auto out = std::make_shared<std::string>();
  CLI::App* merge = app.add_subcommand("merge", "join the stores of shards of one experiment");
  merge->add_option("runs", *runs, "run directories")->required();
  merge->add_option("--out", *out, "run directory to write")->required();
  merge->callback([runs, out] {
    const MergeSummary m = merge_runs(*runs, *out);
    std::cout << "merged " << runs->size() << " run(s) into " << *out << ": " << m.done << " of "
              << m.units << " work units done\n";
    if (m.done < m.units)
      std::cerr << "lrpbench: warning: the merged run is incomplete (" << m.units - m.done
                << " work units missing: run the missing shards, then merge again)\n";
    for (const std::string& r : m.in_progress)
      std::cerr << "lrpbench: warning: a search is still writing '" << r
                << "': merge again once it has finished\n";
  });

  auto dump_run = std::make_shared<std::string>();
  CLI::App* dump = app.add_subcommand(
      "dump", "print every row of RUN/results.sqlite in the documented text form (docs/)");
  dump->add_option("run", *dump_run, "run directory")->required();
  dump->callback([dump_run] {
    const StoredRun s = open_stored_run(*dump_run + "/results.sqlite", Store::Mode::Read,
                                        "this is not a search run lrpbench can read");
    std::cout << s.store->dump();
  });

  auto rep = std::make_shared<std::string>();
  auto threads = std::make_shared<int>(0);
  CLI::App* report = app.add_subcommand(
      "report", "RUN/report/index.html (figures by gnuplot), RUN/aucs.csv, RUN/grid_*.csv");
  report->add_option("run", *rep, "run directory")->required();
  add_bounded_option(report, "--threads", *threads, 1, kMaxThreads,
                     "CPU threads (default: all cores)");
  report->callback([rep, threads] {
    CommonOptions c;
    c.threads = *threads;
    setup_runtime(c);
    const ReportSummary r = write_report(*rep);
    std::cout << "wrote " << *rep << "/report/index.html, " << *rep << "/aucs.csv and " << *rep
              << "/grid_*.csv (" << r.done << " of " << r.units << " work units done)\n";
    if (r.in_progress)
      std::cerr << "lrpbench: warning: a search is still writing this run: the report shows the "
                << r.done << " of " << r.units << " work units finished so far\n";
    else if (r.done < r.units)
      std::cerr << "lrpbench: warning: the run is incomplete (" << r.done << " of " << r.units
                << " work units done): resume it with the same lrpbench search command\n";
  });
}

}  // namespace lrpbench
