#pragma once
// Plots rendered by gnuplot (gnuplot-nox), run as a child process on a script file. Every
// figure is rendered under a temporary name, checked to be a complete PNG, then renamed: a
// failed or truncated plot is an OutputError naming the figure, never a broken file.
#include <string>
#include <vector>

namespace lrpbench {

// Renders `png` with a gnuplot script whose first lines set the terminal; `script` must use
// the placeholder OUTPUT (e.g. `set output @@OUTPUT@@`), which is replaced by the quoted temporary
// name. `data` files (path -> contents) are written first and removed afterwards.
void render_gnuplot_png(const std::string& png, const std::string& script,
                        const std::vector<std::pair<std::string, std::string>>& data = {});

struct Series {
  std::string title;
  std::vector<double> x, y;
  // How gnuplot draws it: "linespoints", "points", "lines", or "yerrorlines" (with `err`:
  // the half-height of each point's bar).
  std::string style = "linespoints";
  std::vector<double> err;
};

struct PlotOptions {
  std::vector<std::string> xtics;  // labels at x = 1, 2, ... (empty: numbers)
  double ymin = 0, ymax = 0;       // the y range (ymin == ymax: automatic)
};

// A line plot of several series to a PNG.
void line_plot(const std::string& png, const std::string& title, const std::string& xlabel,
               const std::string& ylabel, const std::vector<Series>& series,
               const PlotOptions& options = {});

// Quotes a string for a gnuplot script (double quotes, escaped).
std::string gnuplot_quote(const std::string& s);

}  // namespace lrpbench
