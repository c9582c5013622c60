// What the matrix's chart shows: speedup against workers for cpu and exec work (with the Amdahl
// fit when it fits), time per task on a log scale for io work, and a title that says what the
// figures conclude, or that the noise does not let them conclude it.
#include <algorithm>
#include <map>

#include "client/bench.h"
#include "fmt/format.h"

namespace taskq::bench {
namespace {

double PointNoisePct(const SpeedupPoint& p) {
  return p.value > 0 ? 100.0 * (p.high - p.low) / p.value : 0;
}

std::string Workers(double n) { return fmt::format("{:g} worker{}", n, n == 1 ? "" : "s"); }

std::string PerTask(double seconds) {
  if (seconds >= 1) return fmt::format("{:.2f} s", seconds);
  if (seconds >= 1e-3) return fmt::format("{:.2f} ms", seconds * 1e3);
  return fmt::format("{:.0f} µs", seconds * 1e6);
}

}  // namespace

Chart MatrixChart(const std::vector<CellResult>& results, const std::vector<AmdahlFit>& fits,
                  uint32_t cores) {
  ChartPanel speedup{"Speedup of the batch against 1 worker",
                     "workers (log scale)",
                     "speedup (1 worker = 1x)",
                     false,
                     true,
                     cores,
                     "x",
                     {}};
  ChartPanel per_task{"Time per task (wall time of the batch / tasks)",
                      "workers (log scale)",
                      "time per task (log scale)",
                      true,
                      false,
                      cores,
                      "s",
                      {}};
  std::map<std::string, AmdahlFit> fit_of;
  for (const AmdahlFit& f : fits) fit_of[f.series] = f;
  std::vector<std::string> seen;
  for (const CellResult& first : results) {
    if (std::find(seen.begin(), seen.end(), first.cell.series) != seen.end()) continue;
    seen.push_back(first.cell.series);
    ChartSeries series{SeriesTitle(first.cell), {}, fit_of[first.cell.series]};
    if (first.cell.workload.spec.kind == TaskKind::kIo) {
      for (const CellResult& r : results) {
        if (r.cell.series != first.cell.series || r.cell.workers == 0 || r.cell.tasks == 0)
          continue;
        const double n = r.cell.tasks;
        series.points.push_back({static_cast<double>(r.cell.workers), r.wall_median / n,
                                 r.wall_min / n, r.wall_max / n});
      }
      series.fit = AmdahlFit{};
      if (!series.points.empty()) per_task.series.push_back(series);
    } else {
      series.points = SpeedupPoints(results, first.cell.series);
      if (!series.points.empty()) speedup.series.push_back(series);
    }
  }
  Chart chart;
  std::vector<std::string> clauses;
  // The best speedup, if the noise lets it be told from none.
  const ChartSeries* best_series = nullptr;
  const SpeedupPoint* best = nullptr;
  for (const ChartSeries& s : speedup.series) {
    for (const SpeedupPoint& p : s.points) {
      if (p.workers > 1 && (best == nullptr || p.value > best->value)) {
        best = &p;
        best_series = &s;
      }
    }
  }
  if (best != nullptr) {
    const double noise = std::max(PointNoisePct(*best), PointNoisePct(best_series->points.front()));
    clauses.push_back(
        100 * (best->value - 1) > noise
            ? fmt::format("{}: {:.2f}x faster with {} than with 1 ({} cores)", best_series->name,
                          best->value, Workers(best->workers), cores)
            : fmt::format("{}: no speedup beyond the noise (±{:.0f} %)", best_series->name, noise));
  }
  // The fastest io series against the slowest, each at its best worker count.
  const SpeedupPoint *fastest = nullptr, *slowest = nullptr;
  const ChartSeries *fastest_series = nullptr, *slowest_series = nullptr;
  for (const ChartSeries& s : per_task.series) {
    const SpeedupPoint* own = &*std::min_element(
        s.points.begin(), s.points.end(),
        [](const SpeedupPoint& a, const SpeedupPoint& b) { return a.value < b.value; });
    if (fastest == nullptr || own->value < fastest->value) {
      fastest = own;
      fastest_series = &s;
    }
    if (slowest == nullptr || own->value > slowest->value) {
      slowest = own;
      slowest_series = &s;
    }
  }
  if (fastest != nullptr) {
    std::string clause = fmt::format("{}: {} per task with {}", fastest_series->name,
                                     PerTask(fastest->value), Workers(fastest->workers));
    if (slowest != fastest) {
      const double noise = std::max(PointNoisePct(*fastest), PointNoisePct(*slowest));
      const double ratio = slowest->value / fastest->value;
      clause += 100 * (ratio - 1) > noise
                    ? fmt::format(", {:.1f}x less than {}", ratio, slowest_series->name)
                    : fmt::format(", not told apart from {} (noise ±{:.0f} %)",
                                  slowest_series->name, noise);
    }
    clauses.push_back(clause);
  }
  for (const std::string& c : clauses) chart.title += (chart.title.empty() ? "" : "; ") + c;
  if (chart.title.empty()) chart.title = "taskq bench: nothing to chart";
  if (!speedup.series.empty()) chart.panels.push_back(speedup);
  if (!per_task.series.empty()) chart.panels.push_back(per_task);
  return chart;
}

}  // namespace taskq::bench
