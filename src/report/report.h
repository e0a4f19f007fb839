#pragma once
#include <string>

namespace lrpbench {

// Writes RUN/aucs.csv, RUN/grid_<family>_<order>.csv and RUN/report/index.html (with its
// figures rendered by gnuplot) from RUN/results.sqlite.
void write_report(const std::string& run);

}  // namespace lrpbench
