#pragma once
// An existing run's store as every command opens it (dump, report, merge, a resumed search):
// the Store's own checks (SQLite, schema, references between tables), then its definition read
// back through the experiment reader (every bound of an experiment file), then every row
// against that definition. A store that fails any check is refused (InputError: the file, the
// damage, the way out) and left as it was: nothing is written to it. No LibTorch.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "search/experiment.h"
#include "search/store.h"

namespace lrpbench {

// The work units of `exp` over `images` images, in id order (docs/results-schema.md): per
// search image its families and reference points (CMA-ES / NSGA-II: generation-major
// (generation, search image, family) first); per held-out image a "holdout" unit and its
// reference points.
std::vector<UnitRow> plan_units(const Experiment& exp, int64_t images);

// How many classes the model of `exp` has where that is known without loading it (the
// Fashion-MNIST models 10, the built-in ImageNet architectures 1000); 0 for a model file.
int64_t known_classes(const Experiment& exp);

struct StoredRun {
  std::unique_ptr<Store> store;
  Experiment exp;  // the run's stored definition
};

// Opens the existing store at `path` (Mode::Read or Mode::ReadWrite) and checks all of it, in
// one snapshot; a store that fails is refused with `way_out`. With ReadWrite, a database
// without tables (a creation killed before its commit) is created with `definition`.
StoredRun open_stored_run(const std::string& path, Store::Mode mode, const std::string& way_out,
                          const std::string& definition = "");

// The row checks alone (open_stored_run runs them): refuses `store` through Store::refuse
// where a row disagrees with `exp`.
void check_rows(const Store& store, const Experiment& exp);

}  // namespace lrpbench
