#include "report/gnuplot.h"

#include <cstdio>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "util/error.h"

namespace lrpbench {

std::string gnuplot_quote(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

void run_gnuplot(const std::string& script_path) {
  const std::string log = script_path + ".log";
  const std::string cmd = "gnuplot " + script_path + " > " + log + " 2>&1";
  const int rc = std::system(cmd.c_str());
  if (rc != 0) {
    std::ifstream in(log);
    std::string line, last;
    while (std::getline(in, line))
      if (!line.empty()) last = line;
    throw std::runtime_error("gnuplot failed on " + script_path + ": " +
                             (last.empty() ? "is gnuplot-nox installed?" : last));
  }
  std::remove(log.c_str());
}

void line_plot(const std::string& png, const std::string& title, const std::string& xlabel,
               const std::string& ylabel, const std::vector<Series>& series) {
  const std::string data = png + ".dat", script = png + ".gp";
  {
    std::ofstream d(data);
    require(d.good(), "cannot write '" + data + "'");
    d.precision(10);
    for (const Series& s : series) {
      for (size_t i = 0; i < s.x.size(); ++i) d << s.x[i] << " " << s.y[i] << "\n";
      d << "\n\n";
    }
  }
  std::ofstream g(script);
  g << "set terminal pngcairo size 800,560 enhanced font 'Sans,11'\n"
    << "set output " << gnuplot_quote(png) << "\n"
    << "set title " << gnuplot_quote(title) << " noenhanced\n"
    << "set xlabel " << gnuplot_quote(xlabel) << "\nset ylabel " << gnuplot_quote(ylabel) << "\n"
    << "set grid\nset key top right\n"
    << "plot ";
  for (size_t i = 0; i < series.size(); ++i)
    g << (i ? ", " : "") << gnuplot_quote(data) << " index " << i
      << " with linespoints pt 7 ps 0.6 lw 2 title " << gnuplot_quote(series[i].title);
  g << "\n";
  g.close();
  run_gnuplot(script);
  std::remove(data.c_str());
  std::remove(script.c_str());
}

}  // namespace lrpbench
