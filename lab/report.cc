// The lab's output: a table on stdout in the tutorial's terms (real, user, sys), CSV, JSON and the
// SVG chart (WriteOutputs: whichever were asked for).
#include <cstdio>
#include <ctime>
#include <fstream>

#include "fmt/format.h"
#include "lab/lab.h"
#include "nlohmann/json.hpp"

namespace taskq::lab {
namespace {

std::string Secs(double s) {
  return s < 10 ? fmt::format("{:.3f}s", s) : fmt::format("{:.1f}s", s);
}

std::string Micros(double us) {
  if (us < 1000) return fmt::format("{:.0f}us", us);
  if (us < 1e6) return fmt::format("{:.1f}ms", us / 1000);
  return fmt::format("{:.2f}s", us / 1e6);
}

std::string CsvField(const std::string& text) {
  if (text.find_first_of(",\"\n") == std::string::npos) return text;
  std::string out = "\"";
  for (char c : text) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

std::string CpuModel() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("model name", 0) == 0) {
      size_t colon = line.find(':');
      return colon == std::string::npos ? line
                                        : line.substr(line.find_first_not_of(' ', colon + 1));
    }
  }
  return "unknown";
}

nlohmann::json CellJson(const CellResult& r) {
  nlohmann::json reps = nlohmann::json::array();
  for (const RepSample& s : r.reps) {
    reps.push_back({{"real_s", s.wall_s},
                    {"user_s", s.user_s},
                    {"sys_s", s.sys_s},
                    {"startup_s", s.startup_s},
                    {"first_task_s", s.first_task_s},
                    {"daemon_user_s", s.daemon_user_s},
                    {"daemon_sys_s", s.daemon_sys_s},
                    {"tasks_finished", s.run_us.size()},
                    {"failed", s.failed}});
  }
  return {{"series", r.cell.series},
          {"workload", r.cell.workload.label},
          {"kind", TaskKindName(r.cell.workload.spec.kind)},
          {"policy", PolicyName(r.cell.policy)},
          {"workers", r.cell.workers},
          {"tasks", r.cell.tasks},
          {"reps", r.reps.size()},
          {"real_median_s", r.wall_median},
          {"real_min_s", r.wall_min},
          {"real_max_s", r.wall_max},
          {"spread_pct", r.spread_pct},
          {"reps_set_aside", r.set_aside},
          {"user_s", r.user_s},
          {"sys_s", r.sys_s},
          {"daemon_user_s", r.daemon_user_s},
          {"daemon_sys_s", r.daemon_sys_s},
          {"throughput_per_s", r.throughput},
          {"wait_p50_us", r.wait_p50_us},
          {"wait_p99_us", r.wait_p99_us},
          {"run_p50_us", r.run_p50_us},
          {"run_p99_us", r.run_p99_us},
          {"speedup", r.speedup},
          {"efficiency", r.efficiency},
          {"startup_s", r.startup_s},
          {"first_task_s", r.first_task_s},
          {"cpu_share", r.cpu_share},
          {"read_bytes_per_task", r.read_bytes_per_task},
          {"write_bytes_per_task", r.write_bytes_per_task},
          {"vol_ctxsw_per_task", r.vol_ctxsw_per_task},
          {"invol_ctxsw_per_task", r.invol_ctxsw_per_task},
          {"failed", r.failed},
          {"samples", reps}};
}

}  // namespace

void PrintTable(const std::vector<CellResult>& results, const std::vector<AmdahlFit>& fits) {
  std::printf("%-12s %-7s %7s %5s  %-8s %6s %-8s %-8s %8s  %-15s %-15s %-13s  %-8s %-8s\n",
              "WORKLOAD", "POLICY", "WORKERS", "TASKS", "REAL", "SPREAD", "USER", "SYS", "TASKS/S",
              "WAIT p50/p99", "RUN p50/p99", "SPEEDUP  EFF", "START-UP", "1ST TASK");
  for (const CellResult& r : results) {
    const std::string speedup =
        r.speedup > 0 ? fmt::format("{:.2f}x {:4.0f}%", r.speedup, 100 * r.efficiency) : "-";
    const std::string startup = r.startup_s > 0 ? Micros(r.startup_s * 1e6) : "-";
    const std::string failed = r.failed > 0 ? fmt::format("  ({} FAILED)", r.failed) : "";
    std::printf("%-12s %-7s %7s %5u  %-8s %6s %-8s %-8s %8.1f  %-15s %-15s %-13s  %-8s %-8s%s\n",
                r.cell.workload.label.substr(0, 12).c_str(), PolicyName(r.cell.policy),
                WorkersText(r.cell.workers).c_str(), r.cell.tasks, Secs(r.wall_median).c_str(),
                SpreadText(r.spread_pct, r.reps.size()).c_str(), Secs(r.user_s).c_str(),
                Secs(r.sys_s).c_str(), r.throughput,
                (Micros(r.wait_p50_us) + "/" + Micros(r.wait_p99_us)).c_str(),
                (Micros(r.run_p50_us) + "/" + Micros(r.run_p99_us)).c_str(), speedup.c_str(),
                startup.c_str(), Micros(r.first_task_s * 1e6).c_str(), failed.c_str());
  }
  std::printf(
      "real: median wall time of the batch (spread = (max-min)/median over repetitions, the "
      "fastest and slowest fifth set aside from 5 on); "
      "user/sys: CPU of the tasks; start-up: taskqd spawn to ready; 1st task: one task "
      "alone on the fresh daemon.\n");
  for (const AmdahlFit& f : fits) {
    if (!f.valid) {
      std::printf("Amdahl %s: no fit (needs a 1-worker cell and one with more workers)\n",
                  f.series.c_str());
    } else if (f.fits) {
      std::printf(
          "Amdahl %s: serial fraction %.3f, R² %.2f over %d worker count%s (with %u cores: at "
          "most %.2fx here)\n",
          f.series.c_str(), f.serial_fraction, f.r_squared, f.points + 1, f.points == 0 ? "" : "s",
          f.cores, AmdahlSpeedup(f.serial_fraction, f.cores, f.cores));
    } else if (f.points + 1 < 3) {
      std::printf("Amdahl %s: not fitted: %d worker counts, a fit needs 3 to be tested\n",
                  f.series.c_str(), f.points + 1);
    } else {
      std::printf(
          "Amdahl %s: poor fit (R² %.2f over %d worker counts): not drawn, the points do not "
          "follow Amdahl's law\n",
          f.series.c_str(), f.r_squared, f.points + 1);
    }
  }
}

Status WriteCsv(const std::string& path, const std::vector<CellResult>& results) {
  std::ofstream out(path);
  if (!out) return Status::Failed(fmt::format("--csv: cannot write {}", path));
  out << "series,workload,policy,workers,tasks,reps,real_median_s,real_min_s,real_max_s,"
         "spread_pct,user_s,sys_s,daemon_user_s,daemon_sys_s,throughput_per_s,wait_p50_us,"
         "wait_p99_us,run_p50_us,run_p99_us,speedup,efficiency,startup_s,first_task_s,cpu_share,"
         "read_bytes_per_task,write_bytes_per_task,vol_ctxsw_per_task,invol_ctxsw_per_task,"
         "failed\n";
  for (const CellResult& r : results) {
    out << fmt::format(
        "{},{},{},{},{},{},{:.6f},{:.6f},{:.6f},{:.2f},{:.6f},{:.6f},{:.6f},{:.6f},{:.3f},{:.1f},"
        "{:.1f},{:.1f},{:.1f},{:.6f},{:.6f},{:.6f},{:.6f},{:.4f},{:.1f},{:.1f},{:.2f},{:.2f},{}\n",
        CsvField(r.cell.series), CsvField(r.cell.workload.label), PolicyName(r.cell.policy),
        r.cell.workers, r.cell.tasks, r.reps.size(), r.wall_median, r.wall_min, r.wall_max,
        r.spread_pct, r.user_s, r.sys_s, r.daemon_user_s, r.daemon_sys_s, r.throughput,
        r.wait_p50_us, r.wait_p99_us, r.run_p50_us, r.run_p99_us, r.speedup, r.efficiency,
        r.startup_s, r.first_task_s, r.cpu_share, r.read_bytes_per_task, r.write_bytes_per_task,
        r.vol_ctxsw_per_task, r.invol_ctxsw_per_task, r.failed);
  }
  return out.good() ? Status::Ok() : Status::Failed(fmt::format("--csv: write to {} failed", path));
}

Status WriteJson(const std::string& path, const std::vector<CellResult>& results,
                 const std::vector<AmdahlFit>& fits, const std::string& extra_json) {
  nlohmann::json j;
  char date[32];
  std::time_t now = std::time(nullptr);
  std::strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S%z", std::localtime(&now));
  j["tool"] = "taskq bench";
  j["date"] = date;
  j["machine"] = {{"cpus", OnlineCpus()}, {"model", CpuModel()}};
  j["cells"] = nlohmann::json::array();
  for (const CellResult& r : results) j["cells"].push_back(CellJson(r));
  j["amdahl"] = nlohmann::json::array();
  for (const AmdahlFit& f : fits) {
    j["amdahl"].push_back(
        {{"series", f.series},
         {"valid", f.valid},
         {"serial_fraction", f.valid ? nlohmann::json(f.serial_fraction) : nlohmann::json()},
         {"r_squared", f.valid ? nlohmann::json(f.r_squared) : nlohmann::json()},
         {"fits", f.fits},
         {"points", f.points}});
  }
  if (!extra_json.empty()) {
    nlohmann::json extra = nlohmann::json::parse(extra_json, nullptr, false);
    if (extra.is_object()) j.update(extra);
  }
  std::ofstream out(path);
  if (!out) return Status::Failed(fmt::format("--json: cannot write {}", path));
  out << j.dump(2) << "\n";
  return out.good() ? Status::Ok()
                    : Status::Failed(fmt::format("--json: write to {} failed", path));
}

Status WriteOutputs(const Outputs& outputs, const std::vector<CellResult>& results,
                    const std::vector<AmdahlFit>& fits, const Chart& chart,
                    const std::string& extra_json) {
  if (!outputs.csv.empty()) TASKQ_RETURN_IF_ERROR(WriteCsv(outputs.csv, results));
  if (!outputs.json.empty())
    TASKQ_RETURN_IF_ERROR(WriteJson(outputs.json, results, fits, extra_json));
  if (!outputs.svg.empty()) TASKQ_RETURN_IF_ERROR(WriteSvg(outputs.svg, chart));
  return Status::Ok();
}

}  // namespace taskq::lab
