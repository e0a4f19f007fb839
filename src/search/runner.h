#pragma once
// Running a search: the plan (configurations, images, work units), computing a work unit,
// and the resumable, shardable loop that writes the store.
#include <ATen/core/Tensor.h>

#include <functional>
#include <set>
#include <string>
#include <vector>

#include "lrp/composite.h"
#include "model/weights.h"
#include "perturbation/metric.h"
#include "search/experiment.h"
#include "search/store.h"

namespace lrpbench {

struct Plan {
  Experiment exp;
  LoadedModel loaded;  // as loaded: layer indices for composites
  Network net;         // canonical, on the device
  at::Tensor x;        // N x C x H x W, normalised, CPU
  std::vector<ImageRow> images;
  std::vector<ConfigRow> configs;
  std::vector<Composite> composites;  // composites[config id], parsed once
  std::vector<UnitRow> units;
  std::vector<const Metric*> extra;  // metrics beside the PF curves ([metrics] list)
  std::vector<at::Tensor> masks;     // per image, H x W bool (undefined: none); when needed
  int64_t search_images = 0;         // images 0 .. search_images-1; the rest are held out
  // The family winners the held-out units score (set once every search unit is done).
  std::vector<int64_t> holdout_configs;
  // Halving, CMA-ES, NSGA-II: the configurations of the rung or generation being computed
  // (empty: every configuration).
  std::set<int64_t> survivors;
};

// The index that seeds an image's random order and random modes: its dataset index, else
// its position in the experiment.
int64_t seed_index(const ImageRow& image);

// Loads the model and the images, resolves targets, enumerates configurations and units:
// unit = one search image x one family (or the image's reference points), always computed the
// same way whatever process runs it; a held-out image has a "holdout" unit (the family
// winners, known once the search units are done) and its reference points.
Plan make_plan(const Experiment& exp, const at::Device& device);

struct UnitStats {
  int64_t composites = 0, backward_rows = 0;  // K composites, rows at the input layer
  int64_t points = 0, forwards = 0;           // PF points requested, images forwarded
};

// The configurations a work unit scores, as the plan stands: the family's (halving: the rung's
// survivors; CMA-ES / NSGA-II: the generation's), the image's reference points, or the
// held-out winners.
std::vector<int64_t> unit_config_ids(const Plan& plan, const UnitRow& unit);

// Adds configuration c (its id and spec) to the plan, parsing its composite, unless the plan
// has it already (an MPI worker learning the trials of a generation).
void learn_config(Plan& plan, const ConfigRow& c);

// Every curve and metric value of one work unit (of the configurations `ids`; without them,
// unit_config_ids).
UnitResult compute_unit(const Plan& plan, const UnitRow& unit, UnitStats* stats = nullptr);
UnitResult compute_unit(const Plan& plan, const UnitRow& unit, const std::vector<int64_t>& ids,
                        UnitStats* stats = nullptr);

// What identifies a run's results: the experiment, the device and the thread count.
std::string run_definition(const Experiment& exp, const at::Device& device);

struct SearchOptions {
  std::string out;
  int shard_index = 0, shard_count = 1;
  bool force = false;
  int64_t max_units = 0;  // stop after this many units (0: all); for tests and benchmarks
};

// Receives a finished unit's curves (writes them to the store).
using UnitSink = std::function<void(int64_t unit, const UnitResult& result)>;
// Computes the pending units and hands each result to the sink (e.g. spread over MPI ranks).
using Executor = std::function<void(const Plan& plan, const std::vector<const UnitRow*>& pending,
                                    const UnitSink& sink)>;

// Opens (or creates) RUN, refuses a different experiment unless force, and computes every
// pending unit of this shard, one transaction each (in this process, or with `executor`).
// Returns the number of units computed.
int64_t run_search(const Experiment& exp, const at::Device& device, const SearchOptions& opt,
                   const Executor* executor = nullptr);

struct MergeSummary {
  int64_t units = 0, done = 0;           // work units of the experiment, and finished ones
  std::vector<std::string> in_progress;  // runs that a search was still writing
};
// Joins finished units of several runs of the same experiment into `out`. Every source is
// checked (schema, references) before anything is copied.
MergeSummary merge_runs(const std::vector<std::string>& runs, const std::string& out);

// Parses "I/N" (0 <= I < N).
void parse_shard(const std::string& text, int* index, int* count);

}  // namespace lrpbench
