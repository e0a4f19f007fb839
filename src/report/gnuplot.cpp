#include "report/gnuplot.h"

#include <cstdio>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "data/image_header.h"
#include "util/error.h"
#include "util/file.h"

namespace lrpbench {
namespace {

// Runs `gnuplot SCRIPT`; throws OutputError (exit 1) naming `png` with gnuplot's last line.
void run_gnuplot(const std::string& script_path, const std::string& png) {
  const std::string log = script_path + ".log";
  auto sh = [](const std::string& s) {  // a single-quoted shell word
    std::string out = "'";
    for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return out + "'";
  };
  const std::string cmd = "gnuplot " + sh(script_path) + " > " + sh(log) + " 2>&1";
  const int rc = std::system(cmd.c_str());
  std::ifstream in(log);
  std::string line, last;
  while (std::getline(in, line))
    if (!line.empty()) last = line;
  std::remove(log.c_str());
  if (rc != 0)
    throw OutputError("cannot write '" + png + "': gnuplot failed (" +
                      (last.empty() ? std::string("is gnuplot-nox installed?") : last) + ")");
}

}  // namespace

std::string gnuplot_quote(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    if (c == '\n' || c == '\r') c = ' ';
    out += c;
  }
  return out + "\"";
}

void render_gnuplot_png(const std::string& png, const std::string& script,
                        const std::vector<std::pair<std::string, std::string>>& data) {
  const std::string temp = temp_path_for(png);
  std::string text = script;
  for (size_t p = text.find("@@OUTPUT@@"); p != std::string::npos; p = text.find("@@OUTPUT@@", p))
    text.replace(p, 10, gnuplot_quote(temp));
  const std::string script_path = temp + ".gp";
  auto cleanup = [&] {
    std::remove(script_path.c_str());
    for (const auto& d : data) std::remove(d.first.c_str());
  };
  try {
    for (const auto& [path, contents] : data) write_file_atomic(path, contents);
    write_file_atomic(script_path, text);
    run_gnuplot(script_path, png);
    std::string bytes;
    try {
      bytes = read_file(temp, png, kMaxImageFileBytes);
      inspect_image(bytes, png);
    } catch (const InputError&) {
      throw OutputError("cannot write '" + png + "': gnuplot wrote an incomplete PNG (disk full?)");
    }
    commit_temp(temp, png);
  } catch (...) {
    discard_temp(temp);
    cleanup();
    throw;
  }
  cleanup();
}

void line_plot(const std::string& png, const std::string& title, const std::string& xlabel,
               const std::string& ylabel, const std::vector<Series>& series,
               const PlotOptions& options) {
  const std::vector<std::string>& xtics = options.xtics;
  const std::string data = png + ".dat";
  std::ostringstream d;
  d.precision(10);
  for (const Series& s : series) {
    for (size_t i = 0; i < s.x.size(); ++i)
      d << s.x[i] << " " << s.y[i] << (i < s.err.size() ? " " + std::to_string(s.err[i]) : "")
        << "\n";
    d << "\n\n";
  }
  std::ostringstream g;
  g << "set terminal pngcairo size 800,560 enhanced font 'Sans,11'\n"
    << "set output @@OUTPUT@@\n"
    << "set title " << gnuplot_quote(title) << " noenhanced\n"
    << "set xlabel " << gnuplot_quote(xlabel) << "\nset ylabel " << gnuplot_quote(ylabel) << "\n"
    << "set grid\nset key top right noenhanced\n";
  if (!xtics.empty()) {
    g << "set xtics (";
    for (size_t i = 0; i < xtics.size(); ++i)
      g << (i ? ", " : "") << gnuplot_quote(xtics[i]) << " " << i + 1;
    g << ") noenhanced\nset xrange [0.8:" << static_cast<double>(xtics.size()) + 0.2 << "]\n";
  }
  if (options.ymin < options.ymax)
    g << "set yrange [" << options.ymin << ":" << options.ymax << "]\n";
  g << "plot ";
  for (size_t i = 0; i < series.size(); ++i) {
    const std::string& style = series[i].style;
    g << (i ? ", " : "") << gnuplot_quote(data) << " index " << i << " with " << style
      << (style == "lines" ? " lw 2" : style == "points" ? " pt 7 ps 0.8" : " pt 7 ps 0.6 lw 2")
      << " title " << gnuplot_quote(series[i].title);
  }
  g << "\n";
  render_gnuplot_png(png, g.str(), {{data, d.str()}});
}

}  // namespace lrpbench
