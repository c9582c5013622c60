// Judging on a noisy machine: a claim is decided only when the effect measured is larger than
// the noise of the cells it compares; the machine's load is printed so a reader can see why.
#include <algorithm>
#include <cmath>
#include <fstream>
#include <sstream>

#include "fmt/format.h"
#include "lab/lab.h"

namespace taskq::lab {

Judgement JudgeSpreads(double ratio, double threshold, std::vector<double> spreads_pct) {
  Judgement j;
  j.effect_pct = threshold > 0 ? 100.0 * std::abs(ratio / threshold - 1) : 0;
  for (double spread : spreads_pct) j.noise_pct = std::max(j.noise_pct, spread);
  return j;
}

Judgement Judge(double ratio, double threshold, std::vector<const CellResult*> cells) {
  std::vector<double> spreads;
  bool known = true;
  for (const CellResult* c : cells) {
    spreads.push_back(c->spread_pct);
    known = known && c->reps.size() >= 2;
  }
  Judgement j = JudgeSpreads(ratio, threshold, spreads);
  j.noise_known = known;
  return j;
}

std::string NoiseText(const Judgement& j) {
  return j.noise_known ? fmt::format("±{:.0f} %", j.noise_pct) : "unknown: 1 repetition";
}

std::string InconclusiveText(const Judgement& j) {
  return fmt::format("INCONCLUSIVE (noise {})", NoiseText(j));
}

std::string LoadAverage() {
  std::ifstream in("/proc/loadavg");
  double one = 0, five = 0, fifteen = 0;
  if (!(in >> one >> five >> fifteen)) return "unknown";
  return fmt::format("{:.2f} {:.2f} {:.2f}", one, five, fifteen);
}

std::string LoadLine(const std::string& before, const std::string& after) {
  std::string line =
      fmt::format("machine load (1/5/15 min averages): before {}, after {}; {} cores", before,
                  after, OnlineCpus());
  double one_before = 0, one_after = 0;
  std::istringstream(before) >> one_before;
  std::istringstream(after) >> one_after;
  if (std::max(one_before, one_after) > OnlineCpus()) {
    line += ": busier than the cores, expect noise";
  }
  return line;
}

std::string SpreadText(double spread_pct, size_t reps) {
  return reps < 2 ? "-" : fmt::format("{:.0f}%", spread_pct);
}

std::string TableSeconds(double seconds) {
  return seconds < 0.1 ? fmt::format("{:.4f}", seconds) : fmt::format("{:.3f}", seconds);
}

}  // namespace taskq::lab
