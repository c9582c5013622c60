// Drawing the lab's chart as plain SVG text, no library: a title that states the conclusion, then
// one panel per experiment, each series with its points, min-max error bars and (when it fits)
// its Amdahl curve dashed, a legend in plain words under the plot.
#include <algorithm>
#include <cmath>
#include <fstream>

#include "fmt/format.h"
#include "lab/lab.h"

namespace taskq::lab {
namespace {

constexpr const char* kColours[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e",
                                    "#9467bd", "#8c564b", "#e377c2", "#17becf"};
constexpr double kWidth = 760, kLeft = 80, kRight = 30, kPlotHeight = 260;

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

std::string TickSeconds(double s) {
  if (s >= 1) return fmt::format("{:g} s", s);
  if (s >= 1e-3) return fmt::format("{:g} ms", s * 1e3);
  return fmt::format("{:g} µs", s * 1e6);
}

// Lines of at most ~100 characters, broken after "; ".
std::vector<std::string> TitleLines(const std::string& title) {
  std::vector<std::string> lines;
  size_t start = 0;
  while (start < title.size()) {
    size_t end = title.find("; ", start);
    std::string part = title.substr(start, end == std::string::npos ? end : end - start + 1);
    if (!lines.empty() && lines.back().size() + part.size() < 90) {
      lines.back() += " " + part;
    } else {
      lines.push_back(part);
    }
    if (end == std::string::npos) break;
    start = end + 2;
  }
  return lines;
}

// One panel at vertical offset `top`; returns its height.
double DrawPanel(const ChartPanel& panel, double top, std::string* svg) {
  const double plot_w = kWidth - kLeft - kRight, plot_top = top + 24;
  double x_lo = 1e300, x_hi = 0, y_lo = 1e300, y_hi = 0;
  std::vector<double> xs;
  for (const ChartSeries& s : panel.series) {
    for (const SpeedupPoint& p : s.points) {
      x_lo = std::min(x_lo, p.workers);
      x_hi = std::max(x_hi, p.workers);
      y_lo = std::min(y_lo, std::min(p.low, p.value));
      y_hi = std::max(y_hi, std::max(p.high, p.value));
      if (std::find(xs.begin(), xs.end(), p.workers) == xs.end()) xs.push_back(p.workers);
    }
  }
  if (xs.empty()) return 0;
  if (x_hi <= x_lo) x_hi = x_lo * 2;
  if (panel.log_y) {
    y_lo = std::pow(10, std::floor(std::log10(y_lo)));
    y_hi = std::pow(10, std::ceil(std::log10(y_hi)));
    if (y_hi <= y_lo) y_hi = y_lo * 10;
  } else {
    y_lo = 0;
    y_hi = std::max({2.0, y_hi * 1.1, panel.ideal ? std::min(x_hi, 2.0 * panel.cores) : 0.0});
  }
  auto X = [&](double x) {
    return kLeft + 20 +
           (std::log(x) - std::log(x_lo)) / (std::log(x_hi) - std::log(x_lo)) * (plot_w - 40);
  };
  auto Y = [&](double y) {
    const double t = panel.log_y
                         ? (std::log(y) - std::log(y_lo)) / (std::log(y_hi) - std::log(y_lo))
                         : (y - y_lo) / (y_hi - y_lo);
    return plot_top + kPlotHeight - t * kPlotHeight;
  };
  *svg += fmt::format(
      "<g class=\"panel\">\n<text x=\"{}\" y=\"{}\" font-size=\"13\" "
      "font-weight=\"bold\">{}</text>\n",
      kLeft, top + 14, Escape(panel.heading));
  // Grid, ticks and axes.
  std::sort(xs.begin(), xs.end());
  for (double x : xs) {
    *svg += fmt::format(
        "<line x1=\"{0:.1f}\" y1=\"{1}\" x2=\"{0:.1f}\" y2=\"{2}\" stroke=\"#eee\"/>"
        "<text x=\"{0:.1f}\" y=\"{3}\" text-anchor=\"middle\">{4:g}</text>\n",
        X(x), plot_top, plot_top + kPlotHeight, plot_top + kPlotHeight + 16, x);
  }
  std::vector<double> y_ticks;
  if (panel.log_y) {
    for (double decade = y_lo; decade <= y_hi * 1.001; decade *= 10) {
      for (double m : {1.0, 2.0, 5.0}) {
        if (decade * m <= y_hi * 1.001) y_ticks.push_back(decade * m);
      }
    }
  } else {
    const double step = y_hi <= 3 ? 0.5 : y_hi <= 8 ? 1 : 2;
    for (double y = 0; y <= y_hi + 1e-9; y += step) y_ticks.push_back(y);
  }
  for (double y : y_ticks) {
    *svg += fmt::format(
        "<line x1=\"{0}\" y1=\"{1:.1f}\" x2=\"{2}\" y2=\"{1:.1f}\" stroke=\"#eee\"/>"
        "<text x=\"{3}\" y=\"{4:.1f}\" text-anchor=\"end\">{5}</text>\n",
        kLeft, Y(y), kLeft + plot_w, kLeft - 6, Y(y) + 4,
        panel.y_unit == "s" ? TickSeconds(y) : fmt::format("{:g}x", y));
  }
  *svg += fmt::format(
      "<rect x=\"{0}\" y=\"{1}\" width=\"{2}\" height=\"{3}\" fill=\"none\" stroke=\"#333\"/>\n"
      "<text x=\"{4}\" y=\"{5}\" text-anchor=\"middle\">{6}</text>\n"
      "<text x=\"16\" y=\"{7}\" transform=\"rotate(-90 16 {7})\" "
      "text-anchor=\"middle\">{8}</text>\n",
      kLeft, plot_top, plot_w, kPlotHeight, kLeft + plot_w / 2, plot_top + kPlotHeight + 34,
      Escape(panel.x_label), plot_top + kPlotHeight / 2, Escape(panel.y_label));
  if (panel.ideal) {
    const double end = std::min(x_hi, y_hi);
    *svg += fmt::format(
        "<line class=\"ideal\" x1=\"{:.1f}\" y1=\"{:.1f}\" x2=\"{:.1f}\" y2=\"{:.1f}\" "
        "stroke=\"#888\" stroke-dasharray=\"2,3\"/>\n",
        X(x_lo), Y(x_lo), X(end), Y(end));
  }
  if (panel.cores > 1 && panel.cores >= x_lo && panel.cores <= x_hi) {
    *svg += fmt::format(
        "<line class=\"cores\" x1=\"{0:.1f}\" y1=\"{1}\" x2=\"{0:.1f}\" y2=\"{2}\" "
        "stroke=\"#bbb\"/><text x=\"{3:.1f}\" y=\"{4}\" fill=\"#888\">{5} cores</text>\n",
        X(panel.cores), plot_top, plot_top + kPlotHeight, X(panel.cores) + 4, plot_top + 14,
        panel.cores);
  }
  // Series, then their legend under the plot.
  double legend_y = plot_top + kPlotHeight + 58;
  size_t index = 0;
  for (const ChartSeries& s : panel.series) {
    const char* colour = kColours[index++ % std::size(kColours)];
    std::string poly;
    for (const SpeedupPoint& p : s.points)
      poly += fmt::format("{:.1f},{:.1f} ", X(p.workers), Y(p.value));
    *svg += fmt::format(
        "<polyline class=\"series\" data-series=\"{}\" points=\"{}\" fill=\"none\" "
        "stroke=\"{}\" stroke-width=\"2\"/>\n",
        Escape(s.name), poly, colour);
    for (const SpeedupPoint& p : s.points) {
      const double x = X(p.workers);
      *svg += fmt::format(
          "<line class=\"errorbar\" data-low=\"{3:.6g}\" data-high=\"{4:.6g}\" x1=\"{0:.1f}\" "
          "y1=\"{1:.1f}\" x2=\"{0:.1f}\" y2=\"{2:.1f}\" stroke=\"{5}\"/>"
          "<line x1=\"{6:.1f}\" y1=\"{1:.1f}\" x2=\"{7:.1f}\" y2=\"{1:.1f}\" stroke=\"{5}\"/>"
          "<line x1=\"{6:.1f}\" y1=\"{2:.1f}\" x2=\"{7:.1f}\" y2=\"{2:.1f}\" stroke=\"{5}\"/>\n",
          x, Y(p.low), Y(p.high), p.low, p.high, colour, x - 4, x + 4);
      *svg += fmt::format(
          "<circle class=\"point\" data-series=\"{}\" data-x=\"{:g}\" data-value=\"{:.6g}\" "
          "cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"3.5\" fill=\"{}\"/>\n",
          Escape(s.name), p.workers, p.value, x, Y(p.value), colour);
    }
    std::string legend = s.name;
    if (s.fit.fits) {
      std::string curve;
      for (int i = 0; i <= 40; ++i) {
        const double x = x_lo * std::pow(x_hi / x_lo, i / 40.0);
        curve += fmt::format("{:.1f},{:.1f} ", X(x),
                             Y(AmdahlSpeedup(s.fit.serial_fraction, x, s.fit.cores)));
      }
      *svg += fmt::format(
          "<polyline class=\"amdahl\" data-series=\"{}\" data-serial-fraction=\"{:.4f}\" "
          "data-r-squared=\"{:.3f}\" points=\"{}\" fill=\"none\" stroke=\"{}\" "
          "stroke-dasharray=\"6,4\"/>\n",
          Escape(s.name), s.fit.serial_fraction, s.fit.r_squared, curve, colour);
      legend += fmt::format(" (dashed: Amdahl fit, serial fraction {:.2f}, R² {:.2f})",
                            s.fit.serial_fraction, s.fit.r_squared);
    } else if (s.fit.valid && s.fit.points + 1 < 3) {
      legend += " (no Amdahl fit: it needs 3 worker counts to be tested)";
    } else if (s.fit.valid) {
      legend += fmt::format(" (no Amdahl fit drawn: R² {:.2f}, the points do not follow it)",
                            s.fit.r_squared);
    }
    *svg += fmt::format(
        "<rect x=\"{}\" y=\"{:.1f}\" width=\"14\" height=\"3\" fill=\"{}\"/>"
        "<text class=\"legend\" x=\"{}\" y=\"{:.1f}\">{}</text>\n",
        kLeft, legend_y - 4, colour, kLeft + 20, legend_y, Escape(legend));
    legend_y += 16;
  }
  *svg += fmt::format(
      "<text x=\"{}\" y=\"{:.1f}\" fill=\"#666\">bars: fastest to slowest repetition{}</text>\n"
      "</g>\n",
      kLeft, legend_y, panel.ideal ? "; dotted: perfect speedup" : "");
  return legend_y + 14 - top;
}

}  // namespace

std::string RenderSvg(const Chart& chart) {
  std::string body;
  double y = 24;
  for (const std::string& line : TitleLines(chart.title)) {
    body += fmt::format("<text class=\"title\" x=\"{}\" y=\"{}\" font-size=\"15\">{}</text>\n",
                        kLeft - 60, y, Escape(line));
    y += 20;
  }
  y += 6;
  for (const ChartPanel& panel : chart.panels) y += DrawPanel(panel, y, &body) + 16;
  return fmt::format(
             "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{0}\" height=\"{1:.0f}\" "
             "viewBox=\"0 0 {0} {1:.0f}\" font-family=\"sans-serif\" font-size=\"12\">\n"
             "<title>{2}</title>\n<rect width=\"{0}\" height=\"{1:.0f}\" fill=\"white\"/>\n",
             kWidth, y, Escape(chart.title)) +
         body + "</svg>\n";
}

Status WriteSvg(const std::string& path, const Chart& chart) {
  std::ofstream out(path);
  if (!out) return Status::Failed(fmt::format("--svg: cannot write {}", path));
  out << RenderSvg(chart);
  return out.good() ? Status::Ok() : Status::Failed(fmt::format("--svg: write to {} failed", path));
}

}  // namespace taskq::lab
