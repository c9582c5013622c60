// The lab's chart: speedup against workers, one line per series (workload and policy) with its
// Amdahl fit dashed in the same colour, the ideal line and the machine's core count. Plain SVG
// text, no library.
#include <algorithm>
#include <fstream>
#include <map>

#include "client/bench.h"
#include "fmt/format.h"

namespace taskq::bench {
namespace {

constexpr const char* kColours[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e",
                                    "#9467bd", "#8c564b", "#e377c2", "#17becf"};

std::string Escape(const std::string& text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '&':
        out += "&amp;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

}  // namespace

Status WriteSvg(const std::string& path, const std::vector<CellResult>& results,
                const std::vector<AmdahlFit>& fits) {
  const double width = 720, height = 480, left = 60, right = 220, top = 40, bottom = 50;
  const double plot_w = width - left - right, plot_h = height - top - bottom;
  std::map<std::string, std::vector<std::pair<double, double>>> series;  // workers -> speedup
  double max_x = 2, max_y = 2;
  for (const CellResult& r : results) {
    if (r.speedup <= 0 || r.cell.workers == 0) continue;
    series[r.cell.series].push_back({r.cell.workers, r.speedup});
    max_x = std::max<double>(max_x, r.cell.workers);
    max_y = std::max(max_y, r.speedup * 1.1);
  }
  max_y = std::max(max_y, std::min(max_x, 2.0 * OnlineCpus()));
  auto X = [&](double x) { return left + (x - 1) / (max_x - 1) * plot_w; };
  auto Y = [&](double y) { return top + plot_h - y / max_y * plot_h; };

  std::string svg = fmt::format(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{0}\" height=\"{1}\" "
      "viewBox=\"0 0 {0} {1}\" font-family=\"sans-serif\" font-size=\"12\">\n"
      "<title>taskq bench: speedup vs workers</title>\n"
      "<rect width=\"{0}\" height=\"{1}\" fill=\"white\"/>\n"
      "<text x=\"{2}\" y=\"24\" font-size=\"15\">Speedup vs workers ({3} cores)</text>\n",
      width, height, left, OnlineCpus());
  // Axes and grid.
  const int x_ticks = static_cast<int>(max_x);
  for (int x = 1; x <= x_ticks; x += std::max(1, x_ticks / 8)) {
    svg += fmt::format(
        "<line x1=\"{0:.1f}\" y1=\"{1}\" x2=\"{0:.1f}\" y2=\"{2}\" stroke=\"#eee\"/>"
        "<text x=\"{0:.1f}\" y=\"{3}\" text-anchor=\"middle\">{4}</text>\n",
        X(x), top, top + plot_h, top + plot_h + 16, x);
  }
  const double y_step = max_y <= 5 ? 0.5 : max_y <= 10 ? 1 : 2;
  for (double y = 0; y <= max_y + 1e-9; y += y_step) {
    svg += fmt::format(
        "<line x1=\"{0}\" y1=\"{1:.1f}\" x2=\"{2}\" y2=\"{1:.1f}\" stroke=\"#eee\"/>"
        "<text x=\"{3}\" y=\"{4:.1f}\" text-anchor=\"end\">{5:g}</text>\n",
        left, Y(y), left + plot_w, left - 6, Y(y) + 4, y);
  }
  svg += fmt::format(
      "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"none\" stroke=\"#333\"/>\n"
      "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">workers</text>\n"
      "<text x=\"16\" y=\"{}\" transform=\"rotate(-90 16 {})\" text-anchor=\"middle\">speedup "
      "(1 worker = 1)</text>\n",
      left, top, plot_w, plot_h, left + plot_w / 2, height - 12, top + plot_h / 2,
      top + plot_h / 2);
  // Ideal line and the core count.
  const double ideal_end = std::min(max_x, max_y);
  svg += fmt::format(
      "<line class=\"ideal\" x1=\"{:.1f}\" y1=\"{:.1f}\" x2=\"{:.1f}\" y2=\"{:.1f}\" "
      "stroke=\"#888\" stroke-dasharray=\"2,3\"/>\n",
      X(1), Y(1), X(ideal_end), Y(ideal_end));
  if (OnlineCpus() > 1 && OnlineCpus() <= max_x) {
    svg += fmt::format(
        "<line class=\"cores\" x1=\"{0:.1f}\" y1=\"{1}\" x2=\"{0:.1f}\" y2=\"{2}\" "
        "stroke=\"#bbb\"/>"
        "<text x=\"{3:.1f}\" y=\"{4}\" fill=\"#888\">{5} cores</text>\n",
        X(OnlineCpus()), top, top + plot_h, X(OnlineCpus()) + 4, top + 14, OnlineCpus());
  }
  // Series.
  std::map<std::string, AmdahlFit> fit_of;
  for (const AmdahlFit& f : fits) fit_of[f.series] = f;
  double legend_y = top + 10;
  size_t index = 0;
  for (auto& [name, points] : series) {
    std::sort(points.begin(), points.end());
    const char* colour = kColours[index++ % std::size(kColours)];
    std::string poly;
    for (auto [x, y] : points) poly += fmt::format("{:.1f},{:.1f} ", X(x), Y(y));
    svg += fmt::format(
        "<polyline class=\"series\" data-series=\"{}\" points=\"{}\" fill=\"none\" "
        "stroke=\"{}\" stroke-width=\"2\"/>\n",
        Escape(name), poly, colour);
    for (auto [x, y] : points) {
      svg += fmt::format(
          "<circle class=\"point\" data-series=\"{}\" data-workers=\"{:g}\" "
          "data-speedup=\"{:.4f}\" "
          "cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"3.5\" fill=\"{}\"/>\n",
          Escape(name), x, y, X(x), Y(y), colour);
    }
    std::string legend = name;
    auto fit = fit_of.find(name);
    if (fit != fit_of.end() && fit->second.valid) {
      std::string curve;
      for (double x = 1; x <= max_x + 1e-9; x += (max_x - 1) / 40) {
        curve +=
            fmt::format("{:.1f},{:.1f} ", X(x), Y(AmdahlSpeedup(fit->second.serial_fraction, x)));
      }
      svg += fmt::format(
          "<polyline class=\"amdahl\" data-series=\"{}\" data-serial-fraction=\"{:.4f}\" "
          "points=\"{}\" fill=\"none\" stroke=\"{}\" stroke-dasharray=\"6,4\"/>\n",
          Escape(name), fit->second.serial_fraction, curve, colour);
      legend += fmt::format(" (f={:.2f})", fit->second.serial_fraction);
    }
    svg += fmt::format(
        "<rect x=\"{}\" y=\"{:.1f}\" width=\"12\" height=\"3\" fill=\"{}\"/>"
        "<text x=\"{}\" y=\"{:.1f}\">{}</text>\n",
        left + plot_w + 12, legend_y - 4, colour, left + plot_w + 28, legend_y, Escape(legend));
    legend_y += 18;
  }
  svg += fmt::format(
      "<text x=\"{0}\" y=\"{1:.1f}\" fill=\"#666\">dotted: ideal</text>\n"
      "<text x=\"{0}\" y=\"{2:.1f}\" fill=\"#666\">dashed: Amdahl fit</text>\n</svg>\n",
      left + plot_w + 12, legend_y + 10, legend_y + 28);
  std::ofstream out(path);
  if (!out) return Status::Failed(fmt::format("--svg: cannot write {}", path));
  out << svg;
  return out.good() ? Status::Ok() : Status::Failed(fmt::format("--svg: write to {} failed", path));
}

}  // namespace taskq::bench
