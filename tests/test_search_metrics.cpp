// The search under several metrics: [metrics] in experiments, the metric values in the store
// (resumable, shardable, mergeable), metrics.csv, the agreement analysis and agreement.csv.
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "helpers.h"
#include "perturbation/metric.h"
#include "report/agreement.h"
#include "search/experiment.h"
#include "search/store.h"
#include "util/error.h"

namespace lrpbench {
namespace {

namespace fs = std::filesystem;

std::string tmp(const std::string& name) {
  return ::testing::TempDir() + "/lrpbench_" + std::to_string(getpid()) + "_" + name;
}

std::string write_file(const std::string& name, const std::string& text) {
  const std::string path = tmp(name);
  std::ofstream(path) << text;
  return path;
}

std::string fresh_run(const std::string& name) {
  const std::string run = tmp(name);
  fs::remove_all(run);
  return run;
}

std::string search_cmd(const std::string& exp, const std::string& run,
                       const std::string& extra = "") {
  return test::binary() + " search " + exp + " --out " + run + " --threads 2 " + extra;
}

// 3 images x (tutorial 2 x 2 + 1 reference) under PF and five other metrics.
const std::string kMetricsExperiment = R"TOML(
[model]
name = "fashion-vgg"
[data]
dataset = "fashion-mnist"
class = 9
count = 3
[[family]]
name = "tutorial"
values1 = [0, 0.25]
values2 = [0, 0.01]
[reference]
points = ["zero"]
[pf]
patch = 2
[metrics]
list = ["pf-morf", "sparseness", "faithfulness-correlation", "max-sensitivity",
        "relevance-mass", "deletion", "road-morf", "pf-random"]
fc_runs = 10
ms_samples = 2
road_fractions = [0.2, 0.5]
[search]
objective = "sparseness"
)TOML";

const std::vector<std::string> kExtra = {"sparseness", "faithfulness-correlation",
                                         "max-sensitivity", "relevance-mass", "deletion",
                                         "road-morf"};

std::string metrics_run() {
  static const std::string run = [] {
    const std::string r = fresh_run("metrics_reference");
    std::string err;
    EXPECT_EQ(test::run_command(search_cmd(write_file("m.toml", kMetricsExperiment), r), &err), 0)
        << err;
    EXPECT_EQ(test::run_command(test::binary() + " report " + r, &err), 0) << err;
    return r;
  }();
  return run;
}

std::string dump_of(const std::string& run) { return Store(run + "/results.sqlite").dump(); }

std::vector<std::vector<std::string>> read_csv(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::vector<std::string>> rows;
  std::string line;
  while (std::getline(in, line)) {
    std::vector<std::string> row(1);
    bool quoted = false;
    for (size_t i = 0; i < line.size(); ++i) {
      const char c = line[i];
      if (quoted && c == '"' && i + 1 < line.size() && line[i + 1] == '"') {
        row.back() += '"';
        ++i;
      } else if (c == '"') {
        quoted = !quoted;
      } else if (c == ',' && !quoted) {
        row.emplace_back();
      } else {
        row.back() += c;
      }
    }
    rows.push_back(row);
  }
  return rows;
}

TEST(SearchMetrics, EveryValueIsStoredAndEqualsEvaluate) {
  const std::string run = metrics_run();
  const Store s(run + "/results.sqlite");
  const std::vector<MetricRow> rows = s.metric_values();
  // 3 images x 5 configurations x 6 metrics beside the curves; PF only morf and random.
  EXPECT_EQ(rows.size(), 3u * 5 * kExtra.size());
  std::set<std::string> orders;
  for (const CurveRow& c : s.curves()) orders.insert(c.order);
  EXPECT_EQ(orders, (std::set<std::string>{"morf", "random"}));
  // The same values through evaluate's path, one image and one composite at a time.
  const std::vector<ConfigRow> configs = s.configs();
  const std::vector<ImageRow> images = s.images();
  const ConfigRow& cf = configs[3];  // tutorial(0.25,0.01)
  ASSERT_EQ(cf.spec, "tutorial(0.25,0.01)");
  std::string list;
  for (const std::string& m : kExtra) list += (list.empty() ? "" : ",") + m;
  for (const ImageRow& im : images) {
    const std::string out = tmp("metrics_eval_" + im.image);
    std::string err;
    ASSERT_EQ(test::run_command(test::binary() + " evaluate --dataset fashion-mnist --index " +
                                    im.image + " --composite '" + cf.spec +
                                    "' --patch 2 --threads 2 --metrics " + list +
                                    " --fc-runs 10 --ms-samples 2 --road-fractions 0.2,0.5"
                                    " --out " + out,
                                &err),
              0)
        << err;
    std::ifstream f(out + "/evaluate.json");
    const nlohmann::json j = nlohmann::json::parse(f);
    for (const std::string& m : kExtra) {
      const nlohmann::json& v = j["metrics"][m]["images"][0]["value"];
      bool found = false;
      for (const MetricRow& r : rows)
        if (r.config_id == cf.id && r.image_id == im.id && r.metric == m) {
          found = true;
          ASSERT_EQ(r.value.has_value(), !v.is_null()) << m;
          if (r.value) {
            EXPECT_NEAR(*r.value, v.get<double>(), 1e-5 * (1 + std::fabs(*r.value)))
                << m << " image " << im.image;
          }
        }
      EXPECT_TRUE(found) << m;
    }
  }
}

TEST(SearchMetrics, MetricsCsvAndAgreementCsvHoldTheRightNumbers) {
  const std::string run = metrics_run();
  const auto rows = read_csv(run + "/metrics.csv");
  ASSERT_FALSE(rows.empty());
  EXPECT_EQ(rows[0], (std::vector<std::string>{"family", "point", "config", "params_json", "image",
                                               "metric", "value"}));
  // Every (configuration, image, metric) once: 5 configurations x 3 images x 8 metrics.
  EXPECT_EQ(rows.size(), 1u + 5 * 3 * 8);
  // pf-morf rows are aucs.csv's morf rows.
  std::map<std::pair<std::string, std::string>, std::string> aucs;
  for (const auto& r : read_csv(run + "/aucs.csv"))
    if (r.size() == 8 && r[6] == "morf") aucs[{r[2], r[5]}] = r[7];
  // Means per (configuration, metric) of the tutorial family, for an independent tau-b.
  std::map<std::string, std::map<std::string, std::pair<double, int>>> sums;
  int pf_rows = 0;
  for (size_t i = 1; i < rows.size(); ++i) {
    const auto& r = rows[i];
    ASSERT_EQ(r.size(), 7u);
    if (r[5] == "pf-morf") {
      ++pf_rows;
      EXPECT_EQ(r[6], (aucs[{r[2], r[4]}]));
    }
    if (r[1] == "grid") {
      const nlohmann::json p = nlohmann::json::parse(r[3]);
      EXPECT_EQ(p.size(), 2u);
      EXPECT_TRUE(p.contains("gamma") && p.contains("eps")) << r[3];
    } else {
      EXPECT_EQ(r[3], "{}");
    }
    if (r[0] == "tutorial" && !r[6].empty()) {
      auto& s = sums[r[5]][r[2]];
      s.first += std::stod(r[6]);
      s.second += 1;
    }
  }
  EXPECT_EQ(pf_rows, 15);
  const auto agreement = read_csv(run + "/agreement.csv");
  EXPECT_EQ(agreement[0],
            (std::vector<std::string>{"family", "metric_a", "metric_b", "tau_b", "n"}));
  // 7 directed metrics (pf-random has no direction): 21 unordered pairs.
  ASSERT_EQ(agreement.size(), 1u + 21);
  const std::map<std::string, int> better = {
      {"pf-morf", -1},       {"sparseness", 1}, {"faithfulness-correlation", 1},
      {"max-sensitivity", -1}, {"relevance-mass", 1}, {"deletion", -1}, {"road-morf", -1}};
  for (size_t i = 1; i < agreement.size(); ++i) {
    const auto& a = agreement[i];
    ASSERT_TRUE(better.count(a[1]) && better.count(a[2])) << a[1] << " " << a[2];
    std::vector<double> x, y;
    for (const auto& [config, s] : sums[a[1]]) {
      x.push_back(better.at(a[1]) * s.first / s.second);
      const auto& o = sums[a[2]][config];
      y.push_back(better.at(a[2]) * o.first / o.second);
    }
    double num = 0, tx = 0, ty = 0, pairs = 0;
    for (size_t p = 0; p < x.size(); ++p)
      for (size_t q = p + 1; q < x.size(); ++q) {
        pairs += 1;
        const double dx = x[p] - x[q], dy = y[p] - y[q];
        tx += dx == 0;
        ty += dy == 0;
        if (dx != 0 && dy != 0) num += (dx > 0) == (dy > 0) ? 1 : -1;
      }
    EXPECT_EQ(a[4], "4");
    if ((pairs - tx) * (pairs - ty) > 0)
      EXPECT_NEAR(std::stod(a[3]), num / std::sqrt((pairs - tx) * (pairs - ty)), 1e-12)
          << a[1] << " " << a[2];
    else
      EXPECT_EQ(a[3], "");
  }
  std::ifstream html(run + "/report/index.html");
  const std::string page((std::istreambuf_iterator<char>(html)), std::istreambuf_iterator<char>());
  for (const char* s : {"sparseness (objective)", "consensus", "agreement_tutorial.png",
                        "contour_tutorial_road-morf.png", "optimum_0.png"})
    EXPECT_NE(page.find(s), std::string::npos) << s;
  for (const char* f : {"agreement_tutorial.png", "contour_tutorial_sparseness.png",
                        "contour_tutorial_morf.png", "input_0.png", "optimum_0.png"})
    EXPECT_TRUE(fs::exists(run + "/report/" + f)) << f;
}

TEST(SearchMetrics, ShardsMergedAndResumedRunsEqualOneRun) {
  const std::string exp = write_file("m2.toml", kMetricsExperiment);
  const std::string s0 = fresh_run("metrics_s0"), s1 = fresh_run("metrics_s1"),
                    merged = fresh_run("metrics_merged"), resumed = fresh_run("metrics_resumed");
  std::string err;
  ASSERT_EQ(test::run_command(search_cmd(exp, s0, "--shard 0/2"), &err), 0) << err;
  ASSERT_EQ(test::run_command(search_cmd(exp, s1, "--shard 1/2"), &err), 0) << err;
  ASSERT_EQ(test::run_command(test::binary() + " merge " + s0 + " " + s1 + " --out " + merged, &err),
            0)
      << err;
  ASSERT_EQ(test::run_command(search_cmd(exp, resumed, "--max-units 2"), &err), 0) << err;
  ASSERT_EQ(test::run_command(search_cmd(exp, resumed), &err), 0) << err;
  const std::string one = dump_of(metrics_run());
  EXPECT_NE(one.find("\nmetric 0 image=0 metric=deletion "), std::string::npos);
  EXPECT_EQ(dump_of(merged), one);
  EXPECT_EQ(dump_of(resumed), one);
}

TEST(SearchMetrics, StoresWithoutTheMetricTableStillResumeAndReport) {
  const std::string exp = write_file("plain.toml", test::small_experiment(2));
  const std::string full = fresh_run("metrics_old_full"), old = fresh_run("metrics_old");
  std::string err;
  ASSERT_EQ(test::run_command(search_cmd(exp, full), &err), 0) << err;
  ASSERT_EQ(test::run_command(search_cmd(exp, old, "--max-units 1"), &err), 0) << err;
  {  // a store of a build before the metrics: no metric_values table
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open((old + "/results.sqlite").c_str(), &db), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db, "DROP TABLE metric_values", nullptr, nullptr, nullptr), SQLITE_OK);
    sqlite3_close(db);
  }
  EXPECT_TRUE(Store(old + "/results.sqlite").metric_values().empty());
  ASSERT_EQ(test::run_command(test::binary() + " report " + old, &err), 0) << err;
  ASSERT_EQ(test::run_command(search_cmd(exp, old), &err), 0) << err;
  EXPECT_EQ(dump_of(old), dump_of(full));
  ASSERT_EQ(test::run_command(test::binary() + " report " + old, &err), 0) << err;
  // Without [metrics], metrics.csv holds the PF orders as pf-<order>.
  const auto rows = read_csv(old + "/metrics.csv");
  std::set<std::string> names;
  for (size_t i = 1; i < rows.size(); ++i) names.insert(rows[i][5]);
  EXPECT_EQ(names, (std::set<std::string>{"pf-morf", "pf-lrf", "pf-random"}));
}

TEST(SearchMetrics, CorruptMetricRowsAreRefused) {
  const std::string run = fresh_run("metrics_corrupt");
  fs::create_directories(run);
  fs::copy_file(metrics_run() + "/results.sqlite", run + "/results.sqlite");
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open((run + "/results.sqlite").c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "UPDATE metric_values SET config_id = 999 WHERE rowid = 1", nullptr,
                         nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(db);
  std::string err;
  EXPECT_EQ(test::run_command(test::binary() + " report " + run, &err), 2);
  EXPECT_NE(err.find("metric rows refer to"), std::string::npos) << err;
}

const std::string kBase = R"TOML([data]
dataset = "fashion-mnist"
count = 2
[[family]]
name = "tutorial"
values = [0, 0.25]
)TOML";

TEST(SearchMetrics, ExperimentKeysAreCheckedWhereTheyAreWritten) {
  EXPECT_EQ(test::experiment_error(kBase + "[metrics]\nlist = [\"pf-morf\", \"flatness\"]\n"),
            "exp.toml:8: key 'metrics.list': unknown metric 'flatness' (known: pf-morf, pf-lrf, "
            "pf-random, deletion, insertion, road-morf, road-lerf, irof, faithfulness-correlation, "
            "sparseness, complexity, max-sensitivity, relevance-mass, pointing-game)");
  EXPECT_NE(test::experiment_error(kBase + "[metrics]\nlist = [\"sparseness\", \"sparseness\"]\n")
                .find("key 'metrics.list': 'sparseness' given twice"),
            std::string::npos);
  EXPECT_NE(test::experiment_error(kBase + "[metrics]\nlist = [\"sparseness\"]\nroad_fractions = [0.5, "
                                     "0.2]\n")
                .find("exp.toml:9: key 'metrics.road_fractions': fractions must be strictly "
                      "increasing"),
            std::string::npos);
  EXPECT_NE(test::experiment_error(kBase + "[metrics]\nlist = [\"sparseness\"]\nfc_runs = 1\n")
                .find("key 'metrics.fc_runs'"),
            std::string::npos);
  EXPECT_NE(test::experiment_error(kBase + "[pf]\norders = [\"morf\"]\n[metrics]\nlist = [\"pf-lrf\"]\n")
                .find("key 'pf.orders': disagrees with the pf-* entries"),
            std::string::npos);
  EXPECT_NE(test::experiment_error(kBase + "[metrics]\nlist = [\"sparseness\"]\n[search]\nobjective = "
                                     "\"pf-morf\"\n")
                .find("exp.toml:10: key 'search.objective': 'pf-morf' is not in [metrics] list"),
            std::string::npos);
  EXPECT_NE(test::experiment_error(kBase + "[search]\nobjective = \"pf-random\"\n")
                .find("'pf-random' has no better direction"),
            std::string::npos);
  EXPECT_NE(test::experiment_error(kBase + "[metrics]\nroad_noise = 0.1\n").find("key 'metrics.list': missing"),
            std::string::npos);
  EXPECT_NE(test::experiment_error(kBase + "[metrics]\nlist = [\"sparseness\"]\nsamples = 3\n")
                .find("unknown key 'metrics.samples'"),
            std::string::npos);
}

TEST(SearchMetrics, DefinitionsRoundTripAndStayAsTheyWereWithoutMetrics) {
  const Experiment plain = parse_experiment_text(kBase, "a.toml");
  EXPECT_FALSE(plain.definition().contains("metrics"));
  EXPECT_FALSE(plain.definition().contains("objective"));
  EXPECT_EQ(plain.metric_names(), (std::vector<std::string>{"pf-morf", "pf-lrf", "pf-random"}));
  EXPECT_EQ(plain.objective_name(), "pf-morf");
  const Experiment aopc = parse_experiment_text(kBase + "[auc]\nkind = \"aopc\"\n", "b.toml");
  EXPECT_EQ(aopc.objective_name(), "pf-morf");  // higher is better under aopc, still directed
  EXPECT_EQ(metric_better(find_metric("pf-morf"), "aopc"), Better::Higher);
  EXPECT_EQ(metric_better(find_metric("pf-lrf"), "aopc"), Better::Lower);

  const Experiment m = parse_experiment_text(kMetricsExperiment, "m.toml");
  EXPECT_EQ(m.orders, (std::vector<Order>{Order::Morf, Order::Random}));
  EXPECT_EQ(m.extra_metrics().size(), kExtra.size());
  EXPECT_EQ(m.objective_name(), "sparseness");
  const nlohmann::json d = m.definition();
  EXPECT_EQ(d["metrics"]["options"]["fc_runs"], 10);
  EXPECT_TRUE(d["metrics"]["options"]["fc_subset"].is_null());
  EXPECT_EQ(experiment_from_definition(d, "stored").definition(), d);
  const Experiment first = parse_experiment_text(
      kBase + "[metrics]\nlist = [\"pf-random\", \"complexity\", \"sparseness\"]\n", "c.toml");
  EXPECT_EQ(first.objective_name(), "complexity");  // the first directed metric

  // The preset: fashion-thesis with every registered metric, nothing else changed.
  const Experiment thesis = preset_experiment("fashion-thesis", "", "");
  const Experiment all = preset_experiment("fashion-thesis-metrics", "", "");
  EXPECT_EQ(all.metric_names().size(), metric_catalogue().size());
  EXPECT_EQ(metrics().size(), metric_catalogue().size());  // every entry has its implementation
  EXPECT_EQ(all.orders, thesis.orders);
  nlohmann::json da = all.definition();
  da.erase("metrics");
  EXPECT_EQ(da, thesis.definition());
}

TEST(Agreement, TablesRankOptimaPairsAndConsensus) {
  MetricTable t;
  t.names = {"a", "b", "c", "d"};
  t.better = {1, -1, 0, 1};
  t.means = {{3.0, 1.0, 2.0, std::nullopt},   // higher is better: config 0 best
             {1.0, 3.0, 2.0, 0.5},            // lower is better: config 3 best, same order as a
             {5.0, 5.0, 5.0, 5.0},            // no direction
             {1.0, 2.0, 3.0, 4.0}};
  EXPECT_EQ(metric_optimum(t, 0), 0u);
  EXPECT_EQ(metric_optimum(t, 1), 3u);
  EXPECT_FALSE(metric_optimum(t, 2).has_value());
  EXPECT_EQ(metric_optimum(t, 3), 3u);
  const auto pairs = agreement_pairs(t);
  ASSERT_EQ(pairs.size(), 3u);  // (a,b), (a,d), (b,d): c left out
  EXPECT_EQ(pairs[0].a, 0u);
  EXPECT_EQ(pairs[0].b, 1u);
  EXPECT_EQ(pairs[0].n, 3);
  EXPECT_DOUBLE_EQ(*pairs[0].tau_b, 1.0);
  EXPECT_EQ(pairs[1].b, 3u);
  EXPECT_DOUBLE_EQ(*pairs[1].tau_b, -1.0 / 3.0);  // a: 3,1,2 vs d: 1,2,3 (configs 0..2)
  EXPECT_EQ(pairs[2].n, 4);
  EXPECT_DOUBLE_EQ(*pairs[2].tau_b, 1.0 / 3.0);  // -b: -1,-3,-2,-0.5 vs d: 1,2,3,4
  // Consensus among configurations 0..2 (3 lacks a): ranks a 1,3,2; b 1,3,2; d 3,2,1.
  const auto c = table_consensus(t);
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->config, 0u);
  EXPECT_DOUBLE_EQ(c->mean_rank, 5.0 / 3.0);
}

}  // namespace
}  // namespace lrpbench
