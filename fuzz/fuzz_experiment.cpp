// A TOML experiment file, and the run definition it serialises to, read back.
#include "fuzz.h"
#include "search/experiment.h"

LRPBENCH_FUZZ({
  const lrpbench::Experiment x = lrpbench::parse_experiment_text(input, "fuzz.toml");
  const lrpbench::Experiment y = lrpbench::experiment_from_definition(x.definition(), "definition");
  if (y.definition() != x.definition()) __builtin_trap();
})
