// What the matrix's chart shows: speedup against workers for cpu and exec work (with the Amdahl
// fit when it fits), time per task on a log scale for io work, and a title that says what the
// figures conclude, or that the noise does not let them conclude it.
#include <algorithm>
#include <map>

#include "fmt/format.h"
#include "lab/lab.h"

namespace taskq::lab {
namespace {

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
  auto undecided = [&](const Judgement& j, std::initializer_list<const CellResult*> cells) {
    if (j.conclusive()) return;
    for (const CellResult* c : cells) {
      const size_t index = static_cast<size_t>(c - results.data());
      if (std::find(chart.undecided.begin(), chart.undecided.end(), index) ==
          chart.undecided.end()) {
        chart.undecided.push_back(index);
      }
    }
  };
  // The best speedup of cpu or exec work, if the noise lets it be told from none.
  const CellResult *best = nullptr, *base = nullptr;
  for (const CellResult& r : results) {
    if (r.cell.workload.spec.kind == TaskKind::kIo || r.cell.workers <= 1 || r.speedup <= 0)
      continue;
    if (best == nullptr || r.speedup > best->speedup) best = &r;
  }
  for (const CellResult& r : results) {
    if (best != nullptr && r.cell.series == best->cell.series && r.cell.workers == 1) base = &r;
  }
  if (best != nullptr && base != nullptr) {
    const Judgement j = Judge(best->speedup, 1, {base, best});
    undecided(j, {base, best});
    clauses.push_back(j.conclusive()
                          ? fmt::format("{}: {:.2f}x faster with {} than with 1 ({} "
                                        "cores)",
                                        SeriesTitle(best->cell), best->speedup,
                                        Workers(best->cell.workers), cores)
                          : fmt::format("{}: {:.2f}x with {}, {}", SeriesTitle(best->cell),
                                        best->speedup, Workers(best->cell.workers),
                                        InconclusiveText(j)));
  }
  // The io series fastest per task against the slowest, each at its best worker count.
  std::map<std::string, const CellResult*> best_of;
  for (const CellResult& r : results) {
    if (r.cell.workload.spec.kind != TaskKind::kIo || r.cell.workers == 0 || r.cell.tasks == 0) {
      continue;
    }
    const CellResult*& own = best_of[r.cell.series];
    if (own == nullptr || r.wall_median / r.cell.tasks < own->wall_median / own->cell.tasks) {
      own = &r;
    }
  }
  const CellResult *fastest = nullptr, *slowest = nullptr;
  for (const auto& [series, r] : best_of) {
    if (fastest == nullptr ||
        r->wall_median / r->cell.tasks < fastest->wall_median / fastest->cell.tasks)
      fastest = r;
    if (slowest == nullptr ||
        r->wall_median / r->cell.tasks > slowest->wall_median / slowest->cell.tasks)
      slowest = r;
  }
  if (fastest != nullptr) {
    const double per_task = fastest->wall_median / fastest->cell.tasks;
    std::string clause = fmt::format("{}: {} per task with {}", SeriesTitle(fastest->cell),
                                     PerTask(per_task), Workers(fastest->cell.workers));
    if (slowest != fastest) {
      const double ratio = slowest->wall_median / slowest->cell.tasks / per_task;
      const Judgement j = Judge(ratio, 1, {fastest, slowest});
      undecided(j, {fastest, slowest});
      clause += j.conclusive()
                    ? fmt::format(", {:.1f}x less than {}", ratio, SeriesTitle(slowest->cell))
                    : fmt::format(", not told apart from {}: {}", SeriesTitle(slowest->cell),
                                  InconclusiveText(j));
    }
    clauses.push_back(clause);
  }
  for (const std::string& c : clauses) chart.title += (chart.title.empty() ? "" : "; ") + c;
  if (chart.title.empty()) chart.title = "taskq bench: nothing to chart";
  if (!speedup.series.empty()) chart.panels.push_back(speedup);
  if (!per_task.series.empty()) chart.panels.push_back(per_task);
  return chart;
}

}  // namespace taskq::lab
