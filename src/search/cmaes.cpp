#include "search/cmaes.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <pagmo/algorithms/cmaes.hpp>
#include <pagmo/population.hpp>
#include <pagmo/problem.hpp>
#include <stdexcept>

namespace lrpbench {
namespace {

using pagmo::vector_double;

// Records every point it is asked about (the candidates of a generation).
struct RecordingProblem {
  vector_double lower, upper;
  std::shared_ptr<std::vector<vector_double>> seen = std::make_shared<std::vector<vector_double>>();
  vector_double fitness(const vector_double& x) const {
    seen->push_back(x);
    return {0.0};
  }
  std::pair<vector_double, vector_double> get_bounds() const { return {lower, upper}; }
};

// Answers from the values the caller computed; a point it does not know is a logic error.
struct AnswerProblem {
  vector_double lower, upper;
  std::shared_ptr<std::map<vector_double, double>> values =
      std::make_shared<std::map<vector_double, double>>();
  vector_double fitness(const vector_double& x) const {
    const auto it = values->find(x);
    if (it == values->end()) throw std::logic_error("cmaes: a candidate was not evaluated");
    return {it->second};
  }
  std::pair<vector_double, vector_double> get_bounds() const { return {lower, upper}; }
};

}  // namespace

struct CmaesDriver::State {
  vector_double lower, upper;
  int64_t population = 0;
  uint64_t seed = 0;
  pagmo::cmaes algo;
  std::vector<vector_double> x;  // the current population and its values
  std::vector<double> f;
  bool started = false;

  // A population of the current points on `prob`, their values given (nothing evaluated).
  template <typename P>
  pagmo::population current(const P& prob) const {
    pagmo::population pop{pagmo::problem{prob}};
    for (size_t i = 0; i < x.size(); ++i) pop.push_back(x[i], {f[i]});
    return pop;
  }
};

int64_t cmaes_population(size_t d) {
  return std::max<int64_t>(5, 4 + static_cast<int64_t>(std::floor(3 * std::log(static_cast<double>(d)))));
}

CmaesDriver::CmaesDriver(std::vector<double> lower, std::vector<double> upper, int64_t population,
                         uint64_t seed, double sigma0)
    : s_(std::make_unique<State>()) {
  if (population < 5) throw std::invalid_argument("cmaes: a population of at least 5");
  s_->lower = std::move(lower);
  s_->upper = std::move(upper);
  s_->population = population;
  s_->seed = seed;
  s_->algo = pagmo::cmaes(1, -1, -1, -1, -1, sigma0, 0.0, 0.0, true, true,
                          static_cast<unsigned>(seed & 0xffffffffu));
}

CmaesDriver::~CmaesDriver() = default;
CmaesDriver::CmaesDriver(CmaesDriver&&) noexcept = default;
CmaesDriver& CmaesDriver::operator=(CmaesDriver&&) noexcept = default;

std::vector<std::vector<double>> CmaesDriver::initial() const {
  return uniform_box(s_->lower, s_->upper, s_->population, s_->seed);
}

std::vector<std::vector<double>> CmaesDriver::candidates() const {
  if (!s_->started) throw std::logic_error("cmaes: tell() the initial population first");
  RecordingProblem rec{s_->lower, s_->upper};
  const pagmo::cmaes copy = s_->algo;  // same memory, same random state
  copy.evolve(s_->current(rec));
  return *rec.seen;
}

void CmaesDriver::tell(const std::vector<std::vector<double>>& points,
                       const std::vector<std::vector<double>>& values) {
  if (points.size() != values.size() || static_cast<int64_t>(points.size()) != s_->population)
    throw std::logic_error("cmaes: one value per point of the population");
  for (const auto& v : values)
    if (v.size() != 1) throw std::logic_error("cmaes: one objective");
  if (!s_->started) {
    s_->x = points;
    for (const auto& v : values) s_->f.push_back(finite_objective(v[0]));
    s_->started = true;
    return;
  }
  AnswerProblem answer{s_->lower, s_->upper};
  for (size_t i = 0; i < points.size(); ++i)
    (*answer.values)[points[i]] = finite_objective(values[i][0]);
  const pagmo::population next = s_->algo.evolve(s_->current(answer));
  s_->x = next.get_x();
  s_->f.clear();
  for (const auto& v : next.get_f()) s_->f.push_back(v[0]);
}

std::vector<std::vector<double>> CmaesDriver::population() const {
  return s_->x;
}

std::vector<size_t> CmaesDriver::front() const {
  if (s_->f.empty()) return {};
  return {static_cast<size_t>(std::min_element(s_->f.begin(), s_->f.end()) - s_->f.begin())};
}

}  // namespace lrpbench
