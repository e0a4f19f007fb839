#pragma once
// Plots rendered by gnuplot (gnuplot-nox), run as a child process on a script file.
#include <string>
#include <vector>

namespace lrpbench {

// Runs `gnuplot SCRIPT`; throws std::runtime_error (exit 1) with gnuplot's first error line.
void run_gnuplot(const std::string& script_path);

struct Series {
  std::string title;
  std::vector<double> x, y;
};

// A line plot of several series to a PNG.
void line_plot(const std::string& png, const std::string& title, const std::string& xlabel,
               const std::string& ylabel, const std::vector<Series>& series);

// Quotes a string for a gnuplot script (double quotes, escaped).
std::string gnuplot_quote(const std::string& s);

}  // namespace lrpbench
