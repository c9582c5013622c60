// The lab's arithmetic: medians and percentiles over repetitions and tasks, speedup and
// efficiency against one worker, and a least-squares fit of Amdahl's serial fraction.
#include <algorithm>
#include <cmath>
#include <map>

#include "client/bench.h"

namespace taskq::bench {

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
  r->wall_min = wall.empty() ? 0 : *std::min_element(wall.begin(), wall.end());
  r->wall_max = wall.empty() ? 0 : *std::max_element(wall.begin(), wall.end());
  r->spread_pct = r->wall_median > 0 ? 100.0 * (r->wall_max - r->wall_min) / r->wall_median : 0;
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

double AmdahlSpeedup(double f, double n) { return 1.0 / (f + (1.0 - f) / n); }

// 1/S = f + (1 - f)/n, i.e. (1/S - 1/n) = f (1 - 1/n): least squares through the origin.
// Only worker counts the cores can serve (1 < n <= cores) are used: beyond the cores a missing
// speedup is the hardware's limit, not a serial part of the work.
std::vector<AmdahlFit> FitAmdahl(const std::vector<CellResult>& results, uint32_t cores) {
  std::map<std::string, AmdahlFit> fits;
  std::map<std::string, std::pair<double, double>> sums;
  for (const CellResult& r : results) {
    AmdahlFit& fit = fits[r.cell.series];
    fit.series = r.cell.series;
    fit.max_workers = std::max(fit.max_workers, r.cell.workers);
    const double n = r.cell.workers;
    if (n <= 1 || n > cores || r.speedup <= 0) continue;
    const double x = 1 - 1 / n, y = 1 / r.speedup - 1 / n;
    sums[r.cell.series].first += x * y;
    sums[r.cell.series].second += x * x;
    ++fit.points;
  }
  std::vector<AmdahlFit> out;
  for (auto& [series, fit] : fits) {
    auto& [xy, xx] = sums[series];
    if (fit.points > 0 && xx > 0) {
      fit.valid = true;
      fit.serial_fraction = std::clamp(xy / xx, 0.0, 1.0);
    }
    out.push_back(fit);
  }
  return out;
}

}  // namespace taskq::bench
