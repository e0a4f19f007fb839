#pragma once
#include <cstdint>
#include <string>

namespace lrpbench {

// Writes RUN/aucs.csv, RUN/grid_<family>_<order>.csv and RUN/report/index.html (with its
// figures rendered by gnuplot) from RUN/results.sqlite.
struct ReportSummary {
  int64_t units = 0, done = 0;  // work units of the run, and finished ones
  bool in_progress = false;     // a search held the run's lock while the report read it
};
// Reads the store in one snapshot, so a report of a run that a search is still writing is
// consistent (and says how far it got).
ReportSummary write_report(const std::string& run);

}  // namespace lrpbench
