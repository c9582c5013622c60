// The lab's arithmetic: medians and percentiles over repetitions and tasks, speedup and
// efficiency against one worker, and a least-squares fit of Amdahl's serial fraction.
#include <algorithm>
#include <cmath>
#include <map>

#include "lab/lab.h"

namespace taskq::lab {

double Percentile(std::vector<double> values, double p) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  // Nearest rank: the smallest value with at least p% of the values at or below it.
  size_t rank = static_cast<size_t>(std::ceil(p / 100.0 * static_cast<double>(values.size())));
  return values[std::clamp<size_t>(rank, 1, values.size()) - 1];
}

double Median(std::vector<double> values) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  size_t n = values.size();
  return n % 2 == 1 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

double SpreadPct(std::vector<double> values, uint32_t* set_aside) {
  if (set_aside != nullptr) *set_aside = 0;
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const size_t trim = values.size() >= 5 ? values.size() / 5 : 0;
  if (set_aside != nullptr) *set_aside = static_cast<uint32_t>(2 * trim);
  const double median = Median(values);
  const double range = values[values.size() - 1 - trim] - values[trim];
  return median > 0 ? 100.0 * range / median : 0;
}

void Summarise(CellResult* r) {
  std::vector<double> wall, user, sys, duser, dsys, startup, first, waits, runs;
  double cpu_us = 0, run_us = 0, rb = 0, wb = 0, vol = 0, invol = 0, tasks = 0;
  r->failed = 0;
  for (const RepSample& s : r->reps) {
    wall.push_back(s.wall_s);
    user.push_back(s.user_s);
    sys.push_back(s.sys_s);
    duser.push_back(s.daemon_user_s);
    dsys.push_back(s.daemon_sys_s);
    startup.push_back(s.startup_s);
    first.push_back(s.first_task_s);
    waits.insert(waits.end(), s.wait_us.begin(), s.wait_us.end());
    runs.insert(runs.end(), s.run_us.begin(), s.run_us.end());
    cpu_us += (s.user_s + s.sys_s) * 1e6;
    run_us += s.run_total_us;
    rb += static_cast<double>(s.read_bytes);
    wb += static_cast<double>(s.write_bytes);
    vol += static_cast<double>(s.vol_ctxsw);
    invol += static_cast<double>(s.invol_ctxsw);
    tasks += static_cast<double>(s.run_us.size());
    r->failed += s.failed;
  }
  r->wall_median = Median(wall);
  r->spread_pct = SpreadPct(wall, &r->set_aside);
  std::sort(wall.begin(), wall.end());
  r->wall_min = wall.empty() ? 0 : wall[r->set_aside / 2];
  r->wall_max = wall.empty() ? 0 : wall[wall.size() - 1 - r->set_aside / 2];
  r->startup_spread_pct = SpreadPct(startup);
  r->user_s = Median(user);
  r->sys_s = Median(sys);
  r->daemon_user_s = Median(duser);
  r->daemon_sys_s = Median(dsys);
  r->startup_s = Median(startup);
  r->first_task_s = Median(first);
  r->throughput = r->wall_median > 0 ? r->cell.tasks / r->wall_median : 0;
  r->wait_p50_us = Percentile(waits, 50);
  r->wait_p99_us = Percentile(waits, 99);
  r->run_p50_us = Percentile(runs, 50);
  r->run_p99_us = Percentile(runs, 99);
  r->cpu_share = run_us > 0 ? cpu_us / run_us : 0;
  if (tasks > 0) {
    r->read_bytes_per_task = rb / tasks;
    r->write_bytes_per_task = wb / tasks;
    r->vol_ctxsw_per_task = vol / tasks;
    r->invol_ctxsw_per_task = invol / tasks;
  }
}

void ComputeSpeedups(std::vector<CellResult>* results) {
  std::map<std::string, double> base;  // series -> wall of its 1-worker cell
  for (const CellResult& r : *results) {
    if (r.cell.workers == 1) base[r.cell.series] = r.wall_median;
  }
  for (CellResult& r : *results) {
    auto it = base.find(r.cell.series);
    if (it == base.end() || r.wall_median <= 0) continue;
    r.speedup = it->second / r.wall_median;
    r.efficiency = r.cell.workers > 0 ? r.speedup / r.cell.workers : 0;
  }
}

double AmdahlSpeedup(double f, double n, uint32_t cores) {
  const double used = std::min(n, static_cast<double>(std::max(1u, cores)));
  return 1.0 / (f + (1.0 - f) / used);
}

std::vector<SpeedupPoint> SpeedupPoints(const std::vector<CellResult>& results,
                                        const std::string& series) {
  std::vector<SpeedupPoint> points;
  const CellResult* base = nullptr;
  for (const CellResult& r : results) {
    if (r.cell.series == series && r.cell.workers == 1) base = &r;
  }
  if (base == nullptr || base->wall_median <= 0) return points;
  for (const CellResult& r : results) {
    if (r.cell.series != series || r.cell.workers == 0 || r.wall_min <= 0) continue;
    points.push_back({static_cast<double>(r.cell.workers), base->wall_median / r.wall_median,
                      base->wall_median / r.wall_max, base->wall_median / r.wall_min});
  }
  std::sort(points.begin(), points.end(),
            [](const SpeedupPoint& a, const SpeedupPoint& b) { return a.workers < b.workers; });
  return points;
}

// 1/S = f + (1 - f)/m with m = min(n, cores), i.e. (1/S - 1/m) = f (1 - 1/m): least squares
// through the origin over the points with n > 1. Beyond the cores the model predicts no further
// speedup: a missing one there is the hardware's limit, not a serial part of the work.
AmdahlFit FitAmdahlPoints(const std::string& series, const std::vector<SpeedupPoint>& points,
                          uint32_t cores) {
  AmdahlFit fit;
  fit.series = series;
  fit.cores = std::max(1u, cores);
  double xy = 0, xx = 0;
  for (const SpeedupPoint& p : points) {
    fit.max_workers = std::max(fit.max_workers, static_cast<uint32_t>(p.workers));
    const double m = std::min(p.workers, static_cast<double>(fit.cores));
    if (p.workers <= 1 || p.value <= 0) continue;
    ++fit.points;
    if (m <= 1) continue;
    const double x = 1 - 1 / m, y = 1 / p.value - 1 / m;
    xy += x * y;
    xx += x * x;
  }
  if (fit.points == 0 || xx <= 0) return fit;
  fit.valid = true;
  fit.serial_fraction = std::clamp(xy / xx, 0.0, 1.0);
  double mean = 0;
  for (const SpeedupPoint& p : points) mean += p.value;
  mean /= static_cast<double>(points.size());
  double residual = 0, total = 0;
  for (const SpeedupPoint& p : points) {
    const double e = p.value - AmdahlSpeedup(fit.serial_fraction, p.workers, fit.cores);
    residual += e * e;
    total += (p.value - mean) * (p.value - mean);
  }
  fit.r_squared = total > 0 ? 1 - residual / total : (residual < 1e-12 ? 1 : 0);
  fit.fits = points.size() >= 3 && fit.r_squared >= kGoodFit;
  return fit;
}

std::vector<AmdahlFit> FitAmdahl(const std::vector<CellResult>& results, uint32_t cores) {
  std::vector<std::string> series;
  for (const CellResult& r : results) {
    if (std::find(series.begin(), series.end(), r.cell.series) == series.end()) {
      series.push_back(r.cell.series);
    }
  }
  std::vector<AmdahlFit> out;
  for (const std::string& name : series) {
    out.push_back(FitAmdahlPoints(name, SpeedupPoints(results, name), cores));
  }
  return out;
}

}  // namespace taskq::lab
