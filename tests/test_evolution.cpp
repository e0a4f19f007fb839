// The evolutionary strategies (CMA-ES, NSGA-II) and the adaptive ones under faults: NSGA-II on
// a problem with a known front, engine calls per generation, SIGKILL inside a generation and
// inside a rung, Open MPI for every adaptive strategy.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <nlohmann/json.hpp>
#include <set>

#include "helpers.h"
#include "lrp/engine.h"
#include "search/cmaes.h"
#include "search/mpi.h"
#include "search/nsga2.h"
#include "search/runner.h"
#include "search/sampling.h"
#include "search/store.h"
#include "search/winners.h"


namespace lrpbench {
namespace {

namespace fs = std::filesystem;

std::string tmp(const std::string& name) {
  return (fs::temp_directory_path() / ("lrpbench_evolution_" + std::to_string(getpid()) + "_" + name))
      .string();
}

// ZDT1 with n variables in [0, 1]: f1 = x1, g = 1 + 9 mean(x2 .. xn), f2 = g (1 - sqrt(f1 / g)).
// Its Pareto front is g = 1: f2 = 1 - sqrt(f1).
std::vector<std::vector<double>> zdt1(const std::vector<std::vector<double>>& pts) {
  std::vector<std::vector<double>> out;
  for (const auto& x : pts) {
    double s = 0;
    for (size_t k = 1; k < x.size(); ++k) s += x[k];
    const double g = 1 + 9 * s / static_cast<double>(x.size() - 1);
    out.push_back({x[0], g * (1 - std::sqrt(x[0] / g))});
  }
  return out;
}

// Runs NSGA-II on ZDT1; returns the final population.
std::vector<std::vector<double>> zdt1_run(uint64_t seed, int generations,
                                          std::vector<size_t>* front = nullptr) {
  Nsga2Driver d(std::vector<double>(4, 0.0), std::vector<double>(4, 1.0), 40, 2, seed);
  std::vector<std::vector<double>> pts = d.initial();
  EXPECT_EQ(pts.size(), 40u);
  d.tell(pts, zdt1(pts));
  for (int g = 0; g < generations; ++g) {
    pts = d.candidates();
    EXPECT_EQ(pts.size(), 40u);
    if (g < 3) {
      EXPECT_EQ(d.candidates(), pts);  // asking again draws the same
    }
    for (const auto& p : pts)
      for (double x : p) EXPECT_TRUE(x >= 0 && x <= 1) << x;
    d.tell(pts, zdt1(pts));  // throws if pagmo evaluated anything else
  }
  if (front) *front = d.front();
  return d.population();
}

// `text` with its first `from` replaced by `to` (which must be there).
std::string replaced(std::string text, const std::string& from, const std::string& to) {
  const size_t at = text.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  return at == std::string::npos ? text : text.replace(at, from.size(), to);
}

bool dominates(const std::vector<double>& a, const std::vector<double>& b) {
  bool strictly = false;
  for (size_t k = 0; k < a.size(); ++k) {
    if (a[k] > b[k]) return false;
    strictly |= a[k] < b[k];
  }
  return strictly;
}

TEST(Nsga2, ReachesTheZdt1FrontWithNoDominatedPoint) {
  std::vector<size_t> front;
  const std::vector<std::vector<double>> pop = zdt1_run(3, 250, &front);
  const std::vector<std::vector<double>> f = zdt1(pop);
  ASSERT_GE(front.size(), 20u);
  double lo = 1, hi = 0;
  for (size_t i : front) {
    EXPECT_NEAR(f[i][1], 1 - std::sqrt(f[i][0]), 1e-2) << "f1 = " << f[i][0];
    lo = std::min(lo, f[i][0]);
    hi = std::max(hi, f[i][0]);
    for (size_t j : front) EXPECT_FALSE(dominates(f[j], f[i])) << j << " dominates " << i;
  }
  EXPECT_LT(lo, 0.05);  // the front is spread, not one point
  EXPECT_GT(hi, 0.8);
  EXPECT_EQ(zdt1_run(5, 10), zdt1_run(5, 10));  // same seed, same result
  EXPECT_NE(zdt1_run(6, 10), zdt1_run(5, 10));
  EXPECT_THROW(Nsga2Driver({0, 0}, {1, 1}, 10, 2, 0), std::invalid_argument);  // not 4k
  EXPECT_THROW(Nsga2Driver({0, 0}, {1, 1}, 8, 1, 0), std::invalid_argument);   // one objective
}

// Grid, random and sobol on a synthetic surface with a known optimum (no model): the grid finds
// the exact grid point, the sampled strategies come within 1e-3 of the optimum in the internal
// coordinate.
TEST(Strategies, FindTheOptimumOfASyntheticSurface) {
  auto best_of = [](const std::string& decl, const std::string& search) {
    const Experiment x = parse_experiment_text(R"TOML([data]
dataset = "fashion-mnist"
[[family]]
name = "f"
template = "0:zbox;1-:epsilon({e})"
[family.params]
e = ")TOML" + decl + "\"\n[search]\n" + search,
                                               "synthetic.toml");
    double best = NAN, best_f = INFINITY;
    for (const std::vector<double>& p : family_points(x, 0)) {
      const double u = std::log10(p[0]), f = (u + 1.2345) * (u + 1.2345);  // optimum u = -1.2345
      if (f < best_f) {
        best_f = f;
        best = u;
      }
    }
    return best;
  };
  EXPECT_DOUBLE_EQ(best_of("log(-4,0,41)", "strategy = \"grid\"\n"), -1.2);  // 0.1 steps
  EXPECT_NEAR(best_of("log(-4,0)", "strategy = \"random\"\nbudget = 8000\n"), -1.2345, 1e-3);
  EXPECT_NEAR(best_of("log(-4,0)", "strategy = \"sobol\"\nbudget = 4096\n"), -1.2345, 1e-3);
}

// Successive halving with a fake evaluator (no model): 81 grid points, 25 images, eta 3; each
// rung keeps exactly the best ceil(n / 3) by the mean over its images, and the last rung's
// best is the surface's optimum, an exact grid point.
TEST(Halving, KeepsTheBestThirdPerRungOnASyntheticSurface) {
  auto f = [](int64_t c, int64_t image) {  // optimum at c = 24 (x = 0.3), small image noise
    const double x = static_cast<double>(c) / 80;
    return (x - 0.3) * (x - 0.3) + 1e-6 * std::sin(static_cast<double>(c * 7 + image * 13));
  };
  auto mean = [&](int64_t c, int64_t images) {
    double s = 0;
    for (int64_t i = 0; i < images; ++i) s += f(c, i);
    return s / static_cast<double>(images);
  };
  const std::vector<int64_t> rungs = halving_rungs(25, 2, 3);
  EXPECT_EQ(rungs, (std::vector<int64_t>{2, 6, 18, 25}));
  std::vector<int64_t> alive(81);
  std::iota(alive.begin(), alive.end(), 0);
  const std::vector<size_t> sizes = {81, 27, 9, 3};
  for (size_t k = 0; k + 1 < rungs.size(); ++k) {
    ASSERT_EQ(alive.size(), sizes[k]);
    std::vector<std::pair<int64_t, std::optional<double>>> scored;
    for (int64_t c : alive) scored.push_back({c, mean(c, rungs[k])});
    const std::vector<int64_t> kept = halving_keep(scored, 3, -1);  // lower is better
    // Brute force: the ceil(n / 3) lowest means.
    std::vector<std::pair<double, int64_t>> brute;
    for (int64_t c : alive) brute.push_back({mean(c, rungs[k]), c});
    std::sort(brute.begin(), brute.end());
    std::set<int64_t> expected;
    for (size_t i = 0; i < (alive.size() + 2) / 3; ++i) expected.insert(brute[i].second);
    EXPECT_EQ(std::set<int64_t>(kept.begin(), kept.end()), expected) << "rung " << k;
    alive = kept;
  }
  int64_t winner = -1;
  for (int64_t c : alive)
    if (winner < 0 || mean(c, 25) < mean(winner, 25)) winner = c;
  EXPECT_EQ(winner, 24);
  // Undefined values rank last; ties go to the lower id; at least one survives.
  EXPECT_EQ(halving_keep({{5, std::nullopt}, {7, 1.0}, {6, 1.0}}, 3, 1), (std::vector<int64_t>{6}));
  EXPECT_EQ(halving_keep({{5, std::nullopt}}, 3, 1), (std::vector<int64_t>{5}));
}

const char* const kEvolving = R"TOML([data]
dataset = "fashion-mnist"
class = 9
count = 3
holdout = 1
[[family]]
name = "blocks"
template = "0:zbox;1-9:gamma({g});10-:epsilon({e})"
[family.params]
g = "log0(-4,0)"
e = "log(-4,0)"
[reference]
points = ["zero"]
[metrics]
list = ["pf-morf", "sparseness"]
[pf]
patch = 2
[search]
strategy = "nsga2"
objectives = ["pf-morf", "sparseness"]
population = 8
generations = 2
)TOML";

// The nsga2 experiment above as CMA-ES on pf-morf, population 5, 3 generations.
std::string cmaes_body() {
  std::string b = replaced(kEvolving, "strategy = \"nsga2\"", "strategy = \"cmaes\"");
  b = replaced(b, "objectives = [\"pf-morf\", \"sparseness\"]", "objective = \"pf-morf\"");
  b = replaced(b, "population = 8\ngenerations = 2", "population = 5\ngenerations = 3");
  return b;
}

// The experiment is refused with a message containing `message`.
void expect_refused(const std::string& body, const std::string& message) {
  EXPECT_NE(test::experiment_error(body).find(message), std::string::npos)
      << test::experiment_error(body);
}

std::string write(const std::string& name, const std::string& body) {
  const std::string path = tmp(name);
  std::ofstream(path) << body;
  return path;
}

std::string search_cmd(const std::string& exp, const std::string& run) {
  return test::binary() + " search " + exp + " --threads 2 --out " + run;
}

TEST(Nsga2, SearchStoresItsFrontScoresItOnHeldOutImagesAndResumesAfterSigkill) {
  const std::string exp = write("nsga2.toml", kEvolving);
  const std::string run = tmp("nsga2_run"), killed = tmp("nsga2_killed");
  for (const auto& r : {run, killed}) fs::remove_all(r);
  std::string err;
  ASSERT_EQ(test::run_command(search_cmd(exp, run), &err), 0) << err;
  ASSERT_EQ(test::run_command(test::binary() + " report " + run, &err), 0) << err;
  const Store st(run + "/results.sqlite");
  const std::vector<ConfigRow> configs = st.configs();
  ASSERT_EQ(configs.size(), 1u + 3 * 8);  // the reference point, 3 generations of 8
  for (size_t i = 1; i < configs.size(); ++i)
    EXPECT_EQ(configs[i].round, static_cast<int64_t>((i - 1) / 8));
  // The front: non-dominated among the last population, on the stored means.
  const Experiment x = parse_experiment_file(exp);
  const ParetoFronts fronts = pareto_from_json(*st.meta("pareto"));
  ASSERT_EQ(fronts.size(), 1u);
  const std::vector<int64_t>& front = fronts.at("blocks");
  ASSERT_FALSE(front.empty());
  const auto morf = metric_means(x, "pf-morf", 2, st.curves(), st.metric_values());
  const auto sparse = metric_means(x, "sparseness", 2, st.curves(), st.metric_values());
  auto minimised = [&](int64_t id) {  // AUC of MoRF: lower is better; sparseness: higher
    return std::vector<double>{*morf.at(id).mean(), -*sparse.at(id).mean()};
  };
  for (int64_t i : front)
    for (int64_t j : front) EXPECT_FALSE(dominates(minimised(j), minimised(i)));
  // search.json: every Pareto point with its held-out value; the winner is the front's best
  // on the first objective.
  std::ifstream sj(run + "/search.json");
  const nlohmann::json j = nlohmann::json::parse(sj);
  EXPECT_EQ(j["strategy"], "nsga2");
  EXPECT_EQ(j["objectives"], nlohmann::json({"pf-morf", "sparseness"}));
  ASSERT_EQ(j["pareto"].size(), front.size());
  double best = INFINITY;
  for (int64_t id : front) best = std::min(best, minimised(id)[0]);
  for (const auto& p : j["pareto"]) {
    EXPECT_FALSE(p["holdout_value"].is_null());
    EXPECT_EQ(p["search_values"].size(), 2u);
  }
  EXPECT_DOUBLE_EQ(j["winner"]["search_value"].get<double>(), best);
  // A configuration drawn again (log0's zero region, clamping at the box) is scored once: the
  // curves are those of the distinct canonical forms, and a repeat has no rows of its own.
  std::set<std::string> forms;
  std::set<int64_t> scored;
  for (const CurveRow& c : st.curves()) scored.insert(c.config_id);
  for (size_t i = 1; i < configs.size(); ++i) {
    const bool repeat = !forms.insert(configs[i].config).second;
    EXPECT_EQ(scored.count(configs[i].id), repeat ? 0u : 1u) << configs[i].config;
  }
  EXPECT_EQ(j["curves"], static_cast<int64_t>(forms.size()) * 2);
  EXPECT_EQ(j["evaluations"], static_cast<int64_t>(forms.size()) * 2);
  EXPECT_TRUE(fs::exists(run + "/report/pareto.png"));
  // trials.csv: both objectives' means, joined by ';', for every trial in id order; a repeat
  // shows its first draw's values.
  std::ifstream trials(run + "/trials.csv");
  std::string line;
  std::getline(trials, line);
  EXPECT_EQ(line, "family,config,params_json,rung_or_generation,images,objective_values");
  const std::vector<int64_t> same = first_same(configs);
  int rows = 0;
  while (std::getline(trials, line)) {
    const int64_t id = same[static_cast<size_t>(++rows)];
    const std::string values = line.substr(line.rfind(',') + 1);
    const size_t semi = values.find(';');
    ASSERT_NE(semi, std::string::npos) << line;
    EXPECT_DOUBLE_EQ(std::stod(values.substr(0, semi)), *morf.at(id).mean()) << line;
    EXPECT_DOUBLE_EQ(std::stod(values.substr(semi + 1)), *sparse.at(id).mean()) << line;
  }
  EXPECT_EQ(rows, 3 * 8);
  // SIGKILL inside generation 1 (units 2 and 3: generation 1's two search images), resume.
  EXPECT_TRUE(test::kill_inside_unit(search_cmd(exp, killed), 3));
  ASSERT_EQ(test::run_command(search_cmd(exp, killed), &err), 0) << err;
  EXPECT_EQ(Store(killed + "/results.sqlite").dump(), st.dump());
  // A shard cannot know the previous generation: exit 2 before any store exists.
  const std::string shard = tmp("nsga2_shard");
  fs::remove_all(shard);
  EXPECT_EQ(test::run_command(search_cmd(exp, shard) + " --shard 0/2", &err), 2);
  EXPECT_NE(err.find("--shard: nsga2 decides each rung or generation from the previous one"),
            std::string::npos)
      << err;
  EXPECT_FALSE(fs::exists(shard + "/results.sqlite"));
  // Bad inputs: exit 2, one line naming the file, line and key.
  expect_refused(replaced(kEvolving, "population = 8", "population = 10"),
                 "exp.toml:21: key 'search.population': nsga2 needs a multiple of 4, at least 8");
  expect_refused(
      replaced(kEvolving, "objectives = [\"pf-morf\", \"sparseness\"]", "objective = \"pf-morf\""),
      "key 'search.objective': nsga2 trades off several");
  expect_refused(replaced(kEvolving, "\"sparseness\"]\n[pf]", "\"road-morf\"]\n[pf]"),
                 "key 'search.objectives': 'sparseness' is not in [metrics] list");
  expect_refused(replaced(kEvolving, "\"log(-4,0)\"", "[0.1, 0.2]"),
                 "exp.toml:11: key 'family.params.e': nsga2 needs continuous parameters");
  expect_refused(replaced(kEvolving, "nsga2", "cmaes"),
                 "key 'search.objectives': goes with strategy nsga2");
}

// CMA-ES through the batch driver on a synthetic surface with a known optimum (no model).
std::pair<std::vector<double>, double> sphere_run(uint64_t seed, int generations) {
  const std::vector<double> c = {1.0, -2.0, 0.5};
  auto f = [&](const std::vector<double>& u) {
    double s = 0;
    for (size_t k = 0; k < u.size(); ++k) s += (u[k] - c[k]) * (u[k] - c[k]);
    return s;
  };
  CmaesDriver d({-5, -5, -5}, {5, 5, 5}, 8, seed);
  std::vector<double> best_u;
  double best = INFINITY;
  auto score = [&](const std::vector<std::vector<double>>& pts) {
    std::vector<std::vector<double>> v;
    for (const auto& p : pts) {
      for (double x : p) EXPECT_TRUE(x >= -5 && x <= 5);  // bounds forced
      v.push_back({f(p)});
      if (v.back()[0] < best) {
        best = v.back()[0];
        best_u = p;
      }
    }
    return v;
  };
  std::vector<std::vector<double>> pts = d.initial();
  EXPECT_EQ(pts.size(), 8u);
  d.tell(pts, score(pts));
  for (int g = 0; g < generations; ++g) {
    pts = d.candidates();
    EXPECT_EQ(d.candidates(), pts);  // asking again draws the same (the state is unchanged)
    d.tell(pts, score(pts));         // throws if pagmo evaluated anything else
  }
  return {best_u, best};
}

TEST(Cmaes, FindsTheOptimumOfASyntheticSurfaceInBatches) {
  EXPECT_EQ(cmaes_population(4), 8);
  EXPECT_EQ(cmaes_population(1), 5);
  const auto [u, value] = sphere_run(7, 120);
  ASSERT_EQ(u.size(), 3u);
  EXPECT_NEAR(u[0], 1.0, 1e-3);
  EXPECT_NEAR(u[1], -2.0, 1e-3);
  EXPECT_NEAR(u[2], 0.5, 1e-3);
  EXPECT_EQ(sphere_run(7, 10), sphere_run(7, 10));  // same seed, same result
  EXPECT_NE(sphere_run(8, 10).first, sphere_run(7, 10).first);
}

TEST(Cmaes, SearchResumesToTheSameStoreAndRefusesDiscreteParameters) {
  const std::string exp = tmp("cmaes.toml");
  const std::string body = cmaes_body();
  std::ofstream(exp) << body;
  const std::string run = tmp("cmaes_run"), a = tmp("cmaes_a"), b = tmp("cmaes_b");
  for (const auto& r : {run, a, b}) fs::remove_all(r);
  const std::string search = test::binary() + " search " + exp + " --threads 2 --out ";
  std::string err;
  ASSERT_EQ(test::run_command(search + run, &err), 0) << err;
  ASSERT_EQ(test::run_command(test::binary() + " report " + run, &err), 0) << err;
  const Store st(run + "/results.sqlite");
  const std::vector<ConfigRow> configs = st.configs();
  // The reference point, then 4 generations of 5 candidates, each with its generation.
  ASSERT_EQ(configs.size(), 1u + 4 * 5);
  for (size_t i = 1; i < configs.size(); ++i) {
    EXPECT_EQ(configs[i].round, static_cast<int64_t>((i - 1) / 5));
    EXPECT_EQ(configs[i].point, "trial");
  }
  std::ifstream sj(run + "/search.json");
  const nlohmann::json j = nlohmann::json::parse(sj);
  EXPECT_EQ(j["strategy"], "cmaes");
  EXPECT_EQ(j["curves"], 20 * 2);
  EXPECT_TRUE(j["grid_curves"].is_null());
  EXPECT_FALSE(j["winner"]["holdout_value"].is_null());
  for (const char* png : {"convergence.png", "cmaes_0.png", "parallel_0.png"})
    EXPECT_TRUE(fs::exists(run + "/report/" + png)) << png;
  // Stopped inside generation 0 (--max-units), SIGKILLed inside generation 2 (unit 4: its
  // first image), resumed: the same store.
  const std::string dump = st.dump();
  ASSERT_EQ(test::run_command(search + a + " --max-units 1", &err), 0) << err;
  ASSERT_EQ(test::run_command(search + a, &err), 0) << err;
  EXPECT_TRUE(test::kill_inside_unit(search + b, 4));
  ASSERT_EQ(test::run_command(search + b, &err), 0) << err;
  EXPECT_EQ(Store(a + "/results.sqlite").dump(), dump);
  EXPECT_EQ(Store(b + "/results.sqlite").dump(), dump);
  expect_refused(replaced(body, "\"log(-4,0)\"", "[0.1, 0.2]"),
                 "exp.toml:11: key 'family.params.e': cmaes needs continuous parameters");
}

// One engine call per search image per generation, whatever the population: the candidates
// of a generation share the image's forward pass and backward work.
TEST(Evolution, OneEngineCallPerImageAndGenerationWhateverThePopulation) {
  for (const std::string strategy : {"cmaes", "nsga2"})
    for (const int population : {8, 16}) {
      std::string body = kEvolving;
      body = replaced(body, "holdout = 1", "holdout = 0");
      body = replaced(body, "[reference]\npoints = [\"zero\"]\n", "");
      body = replaced(body, "population = 8", "population = " + std::to_string(population));
      if (strategy == "cmaes") {
        body = replaced(body, "strategy = \"nsga2\"", "strategy = \"cmaes\"");
        body = replaced(body, "objectives = [\"pf-morf\", \"sparseness\"]", "objective = \"pf-morf\"");
      }
      const Experiment x = parse_experiment_text(body, "calls.toml");
      SearchOptions opt;
      opt.out = tmp("calls_" + strategy + std::to_string(population));
      fs::remove_all(opt.out);
      const int64_t before = explain_call_count();
      EXPECT_EQ(run_search(x, at::Device(at::kCPU), opt), 3 * 3);  // 3 generations x 3 images
      EXPECT_EQ(explain_call_count() - before, 3 * 3) << strategy << " " << population;
      EXPECT_EQ(Store(opt.out + "/results.sqlite").configs().size(),
                static_cast<size_t>(3 * population));
    }
}

// Open MPI runs every adaptive strategy: rank 0 holds each rung or generation as a barrier and
// sends the workers the configurations they did not draw; the store equals one process's.
TEST(Evolution, MpirunEqualsOneProcessForEveryAdaptiveStrategy) {
  if (!mpi_available()) GTEST_SKIP() << "built without Open MPI";
  std::string cmaes = replaced(cmaes_body(), "population = 5\ngenerations = 3",
                               "population = 5\ngenerations = 2");
  const std::string halving = R"TOML([data]
dataset = "fashion-mnist"
class = 9
count = 5
holdout = 1
[[family]]
name = "tutorial"
values = "log(-4,0,3)+0"
[reference]
points = ["zero"]
[pf]
orders = ["morf"]
patch = 2
[search]
strategy = "halving"
)TOML";
  for (const auto& [name, body] : std::vector<std::pair<std::string, std::string>>{
           {"nsga2", kEvolving}, {"cmaes", cmaes}, {"halving", halving}}) {
    const std::string exp = write(name + "_mpi.toml", body);
    const std::string one = tmp(name + "_one"), ranks = tmp(name + "_ranks");
    for (const auto& r : {one, ranks}) fs::remove_all(r);
    std::string err;
    ASSERT_EQ(test::run_command(search_cmd(exp, one), &err), 0) << err;
    ASSERT_EQ(test::run_command("mpirun -n 3 --oversubscribe --allow-run-as-root " +
                                    search_cmd(exp, ranks),
                                &err),
              0)
        << name << ": " << err;
    EXPECT_EQ(Store(ranks + "/results.sqlite").dump(), Store(one + "/results.sqlite").dump())
        << name;
  }
}

}  // namespace
}  // namespace lrpbench
