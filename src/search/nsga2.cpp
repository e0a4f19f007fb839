#include "search/nsga2.h"

#include <algorithm>
#include <map>
#include <pagmo/algorithms/nsga2.hpp>
#include <pagmo/bfe.hpp>
#include <pagmo/population.hpp>
#include <pagmo/problem.hpp>
#include <pagmo/utils/multi_objective.hpp>
#include <stdexcept>

namespace lrpbench {
namespace {

using pagmo::vector_double;

// The box and the objective count; its fitness is never asked (the batch evaluators answer).
struct BoxProblem {
  vector_double lower, upper;
  size_t objectives = 2;
  vector_double fitness(const vector_double&) const {
    throw std::logic_error("nsga2: a point was evaluated outside the batch evaluator");
  }
  std::pair<vector_double, vector_double> get_bounds() const { return {lower, upper}; }
  vector_double::size_type get_nobj() const { return objectives; }
};

// Splits a batch of decision vectors (concatenated) into points.
std::vector<vector_double> split(const pagmo::problem& p, const vector_double& dvs) {
  const size_t nx = p.get_nx();
  std::vector<vector_double> out;
  for (size_t i = 0; i + nx <= dvs.size(); i += nx)
    out.emplace_back(dvs.begin() + static_cast<std::ptrdiff_t>(i),
                     dvs.begin() + static_cast<std::ptrdiff_t>(i + nx));
  return out;
}

// Records the offspring of a generation (answers zeros).
struct RecordingBfe {
  std::shared_ptr<std::vector<vector_double>> seen = std::make_shared<std::vector<vector_double>>();
  vector_double operator()(const pagmo::problem& p, const vector_double& dvs) const {
    const std::vector<vector_double> points = split(p, dvs);
    seen->insert(seen->end(), points.begin(), points.end());
    return vector_double(points.size() * p.get_nobj(), 0.0);
  }
};

// Answers from the values the caller computed; a point it does not know is a logic error.
struct AnswerBfe {
  std::shared_ptr<std::map<vector_double, vector_double>> values =
      std::make_shared<std::map<vector_double, vector_double>>();
  vector_double operator()(const pagmo::problem& p, const vector_double& dvs) const {
    vector_double out;
    for (const vector_double& x : split(p, dvs)) {
      const auto it = values->find(x);
      if (it == values->end()) throw std::logic_error("nsga2: an offspring was not evaluated");
      out.insert(out.end(), it->second.begin(), it->second.end());
    }
    return out;
  }
};

}  // namespace

struct Nsga2Driver::State {
  BoxProblem box;
  int64_t population = 0;
  uint64_t seed = 0;
  pagmo::nsga2 algo;
  std::vector<vector_double> x, f;  // the current population and its values
  bool started = false;

  pagmo::population current() const {
    pagmo::population pop{pagmo::problem{box}};
    for (size_t i = 0; i < x.size(); ++i) pop.push_back(x[i], f[i]);
    return pop;
  }
  std::vector<vector_double> checked(const std::vector<std::vector<double>>& points,
                                     const std::vector<std::vector<double>>& values) const {
    if (points.size() != values.size() || static_cast<int64_t>(points.size()) != population)
      throw std::logic_error("nsga2: one value vector per point of the population");
    std::vector<vector_double> out;
    for (const auto& v : values) {
      if (v.size() != box.objectives) throw std::logic_error("nsga2: one value per objective");
      out.emplace_back();
      for (double d : v) out.back().push_back(finite_objective(d));
    }
    return out;
  }
};

Nsga2Driver::Nsga2Driver(std::vector<double> lower, std::vector<double> upper,
                         int64_t population, size_t objectives, uint64_t seed)
    : s_(std::make_unique<State>()) {
  if (population < 8 || population % 4 != 0)
    throw std::invalid_argument("nsga2: a population that is a multiple of 4, at least 8");
  if (objectives < 2) throw std::invalid_argument("nsga2: two or more objectives");
  s_->box = {std::move(lower), std::move(upper), objectives};
  s_->population = population;
  s_->seed = seed;
  s_->algo = pagmo::nsga2(1, 0.95, 10., 0.01, 50., static_cast<unsigned>(seed & 0xffffffffu));
}

Nsga2Driver::~Nsga2Driver() = default;
Nsga2Driver::Nsga2Driver(Nsga2Driver&&) noexcept = default;
Nsga2Driver& Nsga2Driver::operator=(Nsga2Driver&&) noexcept = default;

std::vector<std::vector<double>> Nsga2Driver::initial() const {
  return uniform_box(s_->box.lower, s_->box.upper, s_->population, s_->seed);
}

std::vector<std::vector<double>> Nsga2Driver::candidates() const {
  if (!s_->started) throw std::logic_error("nsga2: tell() the initial population first");
  pagmo::nsga2 copy = s_->algo;  // same random state
  RecordingBfe rec;
  copy.set_bfe(pagmo::bfe{rec});
  copy.evolve(s_->current());
  return *rec.seen;
}

void Nsga2Driver::tell(const std::vector<std::vector<double>>& points,
                       const std::vector<std::vector<double>>& values) {
  const std::vector<vector_double> f = s_->checked(points, values);
  if (!s_->started) {
    s_->x = points;
    s_->f = f;
    s_->started = true;
    return;
  }
  AnswerBfe answer;
  for (size_t i = 0; i < points.size(); ++i) (*answer.values)[points[i]] = f[i];
  s_->algo.set_bfe(pagmo::bfe{answer});
  const pagmo::population next = s_->algo.evolve(s_->current());
  s_->x = next.get_x();
  s_->f = next.get_f();
}

std::vector<std::vector<double>> Nsga2Driver::population() const {
  return s_->x;
}

std::vector<size_t> Nsga2Driver::front() const {
  if (s_->f.empty()) return {};
  std::vector<size_t> out;
  const pagmo::fnds_return_type sorted = pagmo::fast_non_dominated_sorting(s_->f);
  for (auto i : std::get<0>(sorted).front()) out.push_back(static_cast<size_t>(i));
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace lrpbench
