// The search: experiment files, resume after SIGKILL, shards + merge, the report.
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <thread>

#include "helpers.h"
#include "search/experiment.h"
#include "search/mpi.h"
#include "search/store.h"
#include "util/error.h"

extern char** environ;

namespace lrpbench {
namespace {

namespace fs = std::filesystem;

// 4 images x (tutorial 3x3, decreasing-gamma 3x3, 3 references) x 3 orders.
const std::string kSmall = test::small_experiment(4);

// Paths private to this process: ctest runs tests in parallel, one process each.
std::string tmp(const std::string& name) {
  return ::testing::TempDir() + "/lrpbench_" + std::to_string(getpid()) + "_" + name;
}

std::string write_experiment(const std::string& name, const std::string& text) {
  const std::string path = tmp(name);
  std::ofstream(path) << text;
  return path;
}

std::string search_cmd(const std::string& exp, const std::string& run,
                       const std::string& extra = "") {
  return test::binary() + " search " + exp + " --out " + run + " --threads 2 " + extra;
}

// Every finished curve of a run, keyed by (config, image, order).
std::map<std::tuple<int64_t, int64_t, std::string>, CurveRow> curves_of(const std::string& run) {
  const Store s(run + "/results.sqlite");
  std::map<std::tuple<int64_t, int64_t, std::string>, CurveRow> out;
  for (const CurveRow& c : s.curves()) {
    const auto key = std::make_tuple(c.config_id, c.image_id, c.order);
    EXPECT_EQ(out.count(key), 0u) << "duplicate row";
    out[key] = c;
  }
  return out;
}

void expect_same_runs(const std::string& a, const std::string& b) {
  const auto ca = curves_of(a), cb = curves_of(b);
  ASSERT_EQ(ca.size(), cb.size());
  for (const auto& [key, row] : ca) {
    auto it = cb.find(key);
    ASSERT_NE(it, cb.end());
    EXPECT_EQ(row.scores, it->second.scores);  // bit for bit
    EXPECT_EQ(row.auc, it->second.auc);
  }
}

std::string fresh_run(const std::string& name) {
  const std::string run = tmp(name);
  fs::remove_all(run);
  return run;
}

std::string reference_run() {
  static const std::string run = [] {
    const std::string r = fresh_run("search_reference");
    EXPECT_EQ(test::run_command(search_cmd(write_experiment("small.toml", kSmall), r), nullptr), 0);
    return r;
  }();
  return run;
}

TEST(Search, UninterruptedRunIsComplete) {
  const auto c = curves_of(reference_run());
  // 4 images x ((3x3 tutorial + 3x3 decreasing-gamma) + 3 references) x 3 orders
  EXPECT_EQ(c.size(), 4u * (9 + 9 + 3) * 3);
  const Store s(reference_run() + "/results.sqlite");
  EXPECT_EQ(s.done_units().size(), 4u * 3);
}

TEST(Search, RandomOrderAucIsTheSameForEveryConfiguration) {
  std::map<int64_t, double> per_image;
  for (const auto& [key, row] : curves_of(reference_run())) {
    if (std::get<2>(key) != "random") continue;
    auto it = per_image.find(row.image_id);
    if (it == per_image.end())
      per_image[row.image_id] = row.auc;
    else
      EXPECT_EQ(it->second, row.auc) << "image " << row.image_id << " config " << row.config_id;
  }
  EXPECT_EQ(per_image.size(), 4u);
}

pid_t spawn(const std::string& cmd) {
  pid_t pid;
  const char* argv[] = {"/bin/sh", "-c", cmd.c_str(), nullptr};
  posix_spawn(&pid, "/bin/sh", nullptr, nullptr, const_cast<char**>(argv), environ);
  return pid;
}

size_t done_units(const std::string& run) {
  if (!fs::exists(run + "/results.sqlite")) return 0;
  try {
    const Store s(run + "/results.sqlite");
    return s.done_units().size();
  } catch (const InputError&) {
    return 0;  // the search is creating the store right now
  }
}

TEST(Search, SigkillAtAnyPointThenResumeEqualsUninterruptedRun) {
  const std::string exp = write_experiment("small.toml", kSmall);
  const std::string run = fresh_run("search_killed");
  size_t partial_kills = 0;
  // Kill during start-up, then each time shortly after more units are done (mid-unit).
  for (size_t target : {0, 2, 5, 8}) {
    // exec: the shell becomes lrpbench, so SIGKILL reaches the search itself.
    const pid_t pid = spawn("exec " + search_cmd(exp, run) + " > /dev/null 2>&1");
    const auto start = std::chrono::steady_clock::now();
    int status = 0;
    bool exited = false;
    while (!exited && done_units(run) < target &&
           std::chrono::steady_clock::now() - start < std::chrono::seconds(60)) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
      exited = waitpid(pid, &status, WNOHANG) == pid;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(target == 0 ? 100 : 40));
    if (!exited) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
    }
    const size_t done = done_units(run);
    if (!exited && done > 0 && done < 12) ++partial_kills;
  }
  EXPECT_GE(partial_kills, 2u) << "kills did not land mid-run; the test proves little";
  ASSERT_EQ(test::run_command(search_cmd(exp, run), nullptr), 0);
  expect_same_runs(run, reference_run());
}

TEST(Search, ShardsMergedEqualOneRun) {
  const std::string exp = write_experiment("small.toml", kSmall);
  std::string runs;
  for (int i = 0; i < 3; ++i) {
    const std::string r = fresh_run("search_shard" + std::to_string(i));
    ASSERT_EQ(test::run_command(search_cmd(exp, r, "--shard " + std::to_string(i) + "/3"), nullptr),
              0);
    runs += " " + r;
  }
  const std::string merged = fresh_run("search_merged");
  std::string err;
  ASSERT_EQ(test::run_command(test::binary() + " merge" + runs + " --out " + merged, &err), 0)
      << err;
  expect_same_runs(merged, reference_run());
}

// One image, one explanation: a search whose forward batches hold one image gives the AUCs
// (to 1e-6 relative: the dense layers' BLAS rounds float32 scores by batch size) and the winners
// of the one whose batches hold 64.
TEST(Search, BatchOfOneGivesTheSameAucsAndWinners) {
  const std::string exp = write_experiment("one.toml", test::small_experiment(1));
  const std::string one = fresh_run("search_batch1"), many = fresh_run("search_batch64");
  ASSERT_EQ(test::run_command(search_cmd(exp, one, "--batch 1"), nullptr), 0);
  ASSERT_EQ(test::run_command(search_cmd(exp, many, "--batch 64"), nullptr), 0);
  const auto a = curves_of(one), b = curves_of(many);
  ASSERT_EQ(a.size(), b.size());
  // Mean AUC of every (configuration, order): the best per order must be the same one.
  std::map<std::pair<std::string, int64_t>, double> mean_a, mean_b;
  for (const auto& [key, row] : a) {
    const auto it = b.find(key);
    ASSERT_NE(it, b.end());
    EXPECT_NEAR(row.auc, it->second.auc, 1e-6 * std::max(1.0, std::fabs(it->second.auc)));
    mean_a[{std::get<2>(key), std::get<0>(key)}] += row.auc;
    mean_b[{std::get<2>(key), std::get<0>(key)}] += it->second.auc;
  }
  for (const std::string order : {"morf", "lrf"}) {
    auto best = [&](const std::map<std::pair<std::string, int64_t>, double>& m, bool lowest) {
      int64_t id = -1;
      double v = 0;
      for (const auto& [k, auc] : m)
        if (k.first == order && (id < 0 || (lowest ? auc < v : auc > v))) id = k.second, v = auc;
      return id;
    };
    const bool lowest = order == "morf";
    EXPECT_EQ(best(mean_a, lowest), best(mean_b, lowest)) << order;
  }
}

TEST(Search, MpirunWithTwoRanksEqualsOneRun) {
  if (!mpi_available()) GTEST_SKIP() << "built without Open MPI";
  const std::string run = fresh_run("search_mpi");
  std::string err;
  ASSERT_EQ(test::run_command("mpirun -n 2 --oversubscribe --allow-run-as-root " +
                                  search_cmd(write_experiment("small.toml", kSmall), run),
                              &err),
            0)
      << err;
  expect_same_runs(run, reference_run());
}

TEST(Search, UnitMessagesRoundTrip) {
  UnitResult in;
  std::vector<CurveRow>& rows = in.curves;
  rows.resize(2);
  rows[0] = {3, 1, "morf", {1.5, -2.25, 0.0}, 7.5, 0.25, 0.5};
  rows[1] = {4, 1, "random", {}, -1.0, 2.0, std::nullopt};
  in.metrics = {{3, 1, "sparseness", 0.75}, {4, 1, "road-morf", std::nullopt}};
  int64_t unit = 0;
  const std::string bytes = encode_unit(42, in);
  const UnitResult out = decode_unit(bytes, &unit);
  const auto& back = out.curves;
  EXPECT_EQ(unit, 42);
  ASSERT_EQ(back.size(), 2u);
  EXPECT_EQ(back[0].scores, rows[0].scores);
  EXPECT_EQ(back[0].order, "morf");
  EXPECT_EQ(*back[0].auc_normalized, 0.5);
  EXPECT_FALSE(back[1].auc_normalized.has_value());
  EXPECT_EQ(back[1].aopc, 2.0);
  ASSERT_EQ(out.metrics.size(), 2u);
  EXPECT_EQ(out.metrics[0].metric, "sparseness");
  EXPECT_EQ(*out.metrics[0].value, 0.75);
  EXPECT_EQ(out.metrics[1].config_id, 4);
  EXPECT_FALSE(out.metrics[1].value.has_value());
  // A truncated or padded message is refused, never read past its end.
  EXPECT_THROW(decode_unit(bytes.substr(0, bytes.size() - 1), &unit), std::runtime_error);
  EXPECT_THROW(decode_unit(bytes + "x", &unit), std::runtime_error);
}

TEST(Search, ChangedExperimentIsRefusedUnlessForced) {
  const std::string run = fresh_run("search_changed");
  ASSERT_EQ(test::run_command(
                search_cmd(write_experiment("small.toml", kSmall), run, "--max-units 1"), nullptr),
            0);
  std::string changed = kSmall;
  changed.replace(changed.find("count = 4"), 9, "count = 3");
  const std::string exp2 = write_experiment("changed.toml", changed);
  std::string err;
  EXPECT_EQ(test::run_command(search_cmd(exp2, run), &err), 2);
  EXPECT_NE(err.find("--force"), std::string::npos) << err;
  EXPECT_EQ(test::run_command(search_cmd(exp2, run, "--force"), nullptr), 0);
  EXPECT_EQ(curves_of(run).size(), 3u * 21 * 3);
}

TEST(Search, ImageFolderWithoutLabelsExplainsTheArgmax) {
  const std::string dir = tmp("photos");
  fs::create_directories(dir);
  for (const char* f : {"dog.jpg", "eagle.jpg"})
    fs::copy_file(std::string("/usr/share/darknet/data/") + f, dir + "/" + f,
                  fs::copy_options::overwrite_existing);
  const std::string exp = write_experiment(
      "folder.toml",
      "[data]\nfolder = \"" + dir +
          "\"\n[[family]]\nname = \"tutorial\"\nvalues = [0, 0.25]\n[pf]\norders = [\"morf\"]\n");
  const std::string run = fresh_run("search_folder");
  std::string err;
  ASSERT_EQ(test::run_command(search_cmd(exp, run), &err), 0) << err;
  ASSERT_EQ(test::run_command(test::binary() + " report " + run, &err), 0) << err;
  std::ifstream aucs(run + "/aucs.csv");
  std::string all((std::istreambuf_iterator<char>(aucs)), std::istreambuf_iterator<char>());
  EXPECT_NE(all.find(",dog.jpg,morf,"), std::string::npos) << all;
  EXPECT_NE(all.find(",eagle.jpg,morf,"), std::string::npos) << all;
  EXPECT_EQ(curves_of(run).size(), 2u * 4);
}

TEST(Search, SecondProcessOnTheSameRunIsRefused) {
  const std::string run = fresh_run("search_locked");
  fs::create_directories(run);
  const RunLock held(run);
  std::string err;
  EXPECT_EQ(test::run_command(search_cmd(write_experiment("small.toml", kSmall), run), &err), 2);
  EXPECT_NE(err.find("in use by another lrpbench process"), std::string::npos) << err;
}

TEST(Experiment, ErrorsNameFileLineAndKey) {
  std::string e = test::experiment_error(
      "[model]\nname = \"fashion-vgg\"\ncolour = 3\n[[family]]\nname=\"tutorial\"\n");
  EXPECT_NE(e.find("exp.toml:3: unknown key 'model.colour'"), std::string::npos) << e;
  e = test::experiment_error(
      "[data]\ndataset = \"fashion-mnist\"\n[[family]]\nname = \"tutorial\"\nvalues = "
      "\"log(-4,0)+0\"\n");
  EXPECT_NE(e.find("exp.toml:5"), std::string::npos) << e;
  EXPECT_NE(e.find("bad range"), std::string::npos) << e;
  e = test::experiment_error("[model]\nname = \"vgg16\"\n[data]\nimagenet = \"/x\"\n");
  EXPECT_NE(e.find("exp.toml:1: key 'model.weights'"), std::string::npos) << e;
  e = test::experiment_error(
      "[data]\ndataset = \"fashion-mnist\"\n[pf]\nmode = \"blur\"\n[[family]]\nname = "
      "\"tutorial\"\n");
  EXPECT_NE(e.find("exp.toml:4: key 'pf.mode'"), std::string::npos) << e;
  e = test::experiment_error(
      "[data]\ndataset = \"fashion-mnist\"\n[[family]]\nname = \"tutorial\"\nvalues = [0, -1]\n");
  EXPECT_NE(e.find("exp.toml:5"), std::string::npos) << e;
  e = test::experiment_error("[data\n");
  EXPECT_NE(e.find("exp.toml:1"), std::string::npos) << e;
}

TEST(Experiment, AxisValuesAndPresets) {
  const auto v = parse_axis_values("log(-4,0,15)+0", "x");
  ASSERT_EQ(v.size(), 16u);
  EXPECT_EQ(v[0], 0.0);
  EXPECT_EQ(v[1], std::pow(10.0, -4.0));
  EXPECT_EQ(v[2], std::pow(10.0, -4.0 + 4.0 * 1 / 14));
  EXPECT_EQ(v[15], 1.0);
  const Experiment f = preset_experiment("fashion-thesis", "", "");
  EXPECT_EQ(f.families.size(), 2u);
  EXPECT_EQ(f.data.count, 50);
  EXPECT_EQ(f.data.class_index, 9);
  EXPECT_EQ(f.pf.patch, 2);
  EXPECT_EQ(f.orders.size(), 3u);
  EXPECT_THROW(preset_experiment("vgg16-thesis", "", "imagenet"), InputError);
  EXPECT_THROW(preset_experiment("vgg16-thesis", "w.safetensors", ""), InputError);
  const Experiment g = preset_experiment("vgg16-thesis", "w.safetensors", "imagenet/val");
  EXPECT_EQ(g.pf.final_step, "minmax-mid");
  EXPECT_EQ(g.data.resize, "224");
  EXPECT_EQ(g.data.class_index, 29);
  // fashion-thesis on another 28x28 model: the embedded ResNet or a model file.
  const Experiment r = preset_experiment("fashion-thesis", "", "", "fashion-resnet");
  EXPECT_EQ(r.model, "fashion-resnet");
  EXPECT_EQ(r.families.size(), 2u);
  const Experiment m = preset_experiment("fashion-thesis", "", "", "models/mine.pt", "0.5:0.25");
  EXPECT_EQ(m.model, "models/mine.pt");
  EXPECT_EQ(m.normalize, "0.5:0.25");
  EXPECT_EQ(m.definition()["normalize"], "0.5:0.25");
  EXPECT_FALSE(f.definition().contains("normalize"));
  EXPECT_THROW(preset_experiment("fashion-thesis", "", "", "resnet50"), InputError);
  EXPECT_THROW(preset_experiment("fashion-thesis", "", "", "fashion-resnet", "imagenet"),
               InputError);
  EXPECT_THROW(preset_experiment("vgg16-thesis", "w.safetensors", "imagenet/val", "resnet18"),
               InputError);
}

TEST(Experiment, ModelFilesAreRelativeToTheExperiment) {
  const std::string rest = "\n[data]\ndataset = \"fashion-mnist\"\ncount = 2\n"
                           "[[family]]\nname = \"tutorial\"\nvalues = [0, 1]\n";
  const Experiment x =
      parse_experiment_text("[model]\nfile = \"m.onnx\"\nnormalize = \"fashion-mnist\"" + rest,
                            "runs/exp.toml");
  EXPECT_EQ(x.model, "runs/m.onnx");
  EXPECT_EQ(x.normalize, "fashion-mnist");
  EXPECT_EQ(parse_experiment_text("[model]\nfile = \"m.pt\"" + rest, "exp.toml").model, "./m.pt");
  auto error = [&](const std::string& model) {
    try {
      parse_experiment_text(model + rest, "e.toml");
    } catch (const InputError& e) {
      return std::string(e.what());
    }
    return std::string("(no error)");
  };
  EXPECT_NE(error("[model]\nname = \"vgg16\"\nfile = \"m.pt\"").find("e.toml:3: key 'model.file'"),
            std::string::npos)
      << error("[model]\nname = \"vgg16\"\nfile = \"m.pt\"");
  EXPECT_NE(error("[model]\nnormalize = \"imagenet\"").find("key 'model.normalize'"),
            std::string::npos);
}

TEST(Report, HoldsEveryFigureAndTable) {
  const std::string run = reference_run();
  std::string err;
  ASSERT_EQ(test::run_command(test::binary() + " report " + run, &err), 0) << err;
  std::ifstream in(run + "/report/index.html");
  const std::string page((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  for (const std::string fig :
       {"contour_tutorial_morf.png", "contour_decreasing-gamma_lrf.png",
        "contour_tutorial_random.png", "boxplot.png", "curves_morf.png", "curves_lrf.png",
        "curves_random.png", "penultimate.png", "heatmap_0_0.png"}) {
    EXPECT_NE(page.find(fig), std::string::npos) << fig;
    EXPECT_TRUE(fs::exists(run + "/report/" + fig)) << fig;
  }
  EXPECT_NE(page.find("Best configurations"), std::string::npos);
  EXPECT_NE(page.find("optimum"), std::string::npos);
  EXPECT_NE(page.find("worst"), std::string::npos);
  std::ifstream aucs(run + "/aucs.csv");
  std::string line;
  std::getline(aucs, line);
  EXPECT_EQ(line, "family,point,config,param1,param2,image,order,auc");
  size_t rows = 0, references = 0;
  while (std::getline(aucs, line)) {
    ++rows;
    if (line.rfind(",reference,", 0) == 0) ++references;
  }
  EXPECT_EQ(rows, 4u * 21 * 3);
  EXPECT_EQ(references, 4u * 3 * 3);  // each reference point once, not per family
  // The grid file's mean and population std agree with the curves.
  std::ifstream grid(run + "/grid_tutorial_morf.csv");
  std::getline(grid, line);
  EXPECT_EQ(line, "param1,param2,mean_auc,std_auc,n");
  std::getline(grid, line);  // param1 = 0, param2 = 0: config 0
  std::vector<double> v;
  for (const auto& [key, row] : curves_of(run))
    if (std::get<0>(key) == 0 && std::get<2>(key) == "morf") v.push_back(row.auc);
  ASSERT_EQ(v.size(), 4u);
  double mean = 0, var = 0;
  for (double x : v) mean += x / 4;
  for (double x : v) var += (x - mean) * (x - mean) / 4;
  std::stringstream ss(line);
  std::string p1, p2, m, sd, n;
  std::getline(ss, p1, ',');
  std::getline(ss, p2, ',');
  std::getline(ss, m, ',');
  std::getline(ss, sd, ',');
  std::getline(ss, n, ',');
  EXPECT_EQ(p1 + "," + p2, "0,0");
  EXPECT_NEAR(std::stod(m), mean, 1e-9 * (1 + std::fabs(mean)));
  EXPECT_NEAR(std::stod(sd), std::sqrt(var), 1e-9 * (1 + std::sqrt(var)));
  EXPECT_EQ(n, "4");
}

}  // namespace
}  // namespace lrpbench
