#include "client/top_pilots.h"

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "fmt/format.h"

namespace taskq::cli {

std::string PilotsTable(const std::string& state_dir, const std::vector<GroupInfo>& groups) {
  std::string table;
  for (const GroupInfo& group : groups) {
    std::ifstream in(fmt::format("{}/slurm/pilots-group{}.json", state_dir, group.index));
    if (!in) continue;
    std::stringstream text;
    text << in.rdbuf();
    const nlohmann::json j = nlohmann::json::parse(text.str(), nullptr, false);
    if (!j.is_object() || !j.contains("pilots") || !j["pilots"].is_array()) continue;
    if (table.empty()) {
      table = fmt::format("{:<16} {:>5} {:>8} {:<11} {:<12} {:>7} {:>10}\n", "GROUP", "PILOT",
                          "JOB", "STATE", "NODE", "LEASES", "WALLTIME");
    }
    if (j.contains("paused") && j["paused"].is_string()) {
      table += fmt::format("{:<16} paused by the circuit breaker: {}\n", group.name,
                           j["paused"].get<std::string>());
    }
    for (const auto& p : j["pilots"]) {
      auto number = [&](const char* key) {
        return p.contains(key) && p[key].is_number_unsigned() ? p[key].get<uint64_t>() : 0;
      };
      auto text_of = [&](const char* key) {
        return p.contains(key) && p[key].is_string() ? p[key].get<std::string>() : "";
      };
      const std::string node = text_of("node");
      table += fmt::format("{:<16} {:>5} {:>8} {:<11} {:<12} {:>3}/{:<3} {:>9}s\n", group.name,
                           number("pilot"), number("job_id"), text_of("state"),
                           node.empty() ? "-" : node, number("leases"), number("slots"),
                           number("walltime_left_s"));
    }
  }
  return table;
}

}  // namespace taskq::cli
