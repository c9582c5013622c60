// taskq group add|list|remove|pause|resume: the queue's groups (issue 7). Each group is a FIFO
// with its own policy and parallelism; the daemon starts or stops its runners when the table in
// the segment changes (within ~50 ms), so these commands only edit the table.
#include <cstdio>
#include <iostream>

#include "client/cli.h"
#include "common/json_text.h"
#include "fmt/format.h"
#include "nlohmann/json.hpp"

namespace taskq::cli {

nlohmann::json GroupJson(const QueueStats::Group& group) {
  const GroupInfo& g = group.info;
  return {{"name", g.name},
          {"policy", PolicyName(g.settings.policy)},
          {"workers", g.settings.workers},
          {"max_parallel", g.settings.max_parallel},
          {"paused", g.paused},
          {"from_config", g.from_config},
          {"queued", group.queued},
          {"running", group.running},
          {"finished", group.finished}};
}

std::string DescribeGroupSettings(const GroupInfo& g) {
  if (g.settings.policy == Policy::kPool) {
    return g.settings.workers == 0 ? "pool, one worker per CPU"
                                   : fmt::format("pool, {} workers", g.settings.workers);
  }
  if (g.settings.policy == Policy::kSlurm) return "slurm (see the slurm: settings)";
  return g.settings.max_parallel == 0
             ? "process, unbounded"
             : fmt::format("process, max_parallel {}", g.settings.max_parallel);
}

namespace {

int GroupList(const GlobalArgs& global, Client& client) {
  const QueueStats stats = client.Stats();
  if (global.json) {
    nlohmann::json list = nlohmann::json::array();
    for (const QueueStats::Group& group : stats.groups) list.push_back(GroupJson(group));
    std::cout << JsonText(list) << "\n";
    return 0;
  }
  std::printf("%-16s %-28s %-7s %8s %8s %9s\n", "GROUP", "POLICY", "STATE", "QUEUED", "RUNNING",
              "FINISHED");
  for (const QueueStats::Group& group : stats.groups) {
    std::printf("%-16s %-28s %-7s %8llu %8llu %9llu\n", group.info.name.c_str(),
                DescribeGroupSettings(group.info).c_str(), group.info.paused ? "paused" : "active",
                static_cast<unsigned long long>(group.queued),
                static_cast<unsigned long long>(group.running),
                static_cast<unsigned long long>(group.finished));
  }
  return 0;
}

}  // namespace

int RunGroup(const GlobalArgs& global, const GroupCommand& command) {
  int code = 0;
  std::unique_ptr<Client> client = ConnectOrReport(global, &code);
  if (!client) return code;
  if (command.action == "list") return GroupList(global, *client);
  Status done;
  if (command.action == "add") {
    GroupSettings settings;
    if (!ParsePolicy(command.policy, &settings.policy)) {
      return Report(Status::Invalid(
          fmt::format("--policy: must be pool or process, got '{}'", command.policy)));
    }
    settings.workers = command.workers;
    settings.max_parallel = command.max_parallel;
    done = client->AddGroup(command.name, settings);
  } else if (command.action == "remove") {
    done = client->RemoveGroup(command.name);
  } else {
    done = client->SetGroupPaused(command.name, command.action == "pause");
  }
  if (!done.ok()) return Report(done);
  if (global.json) {
    std::cout << nlohmann::json{{"group", command.name}, {"action", command.action}}.dump() << "\n";
  }
  return 0;
}

}  // namespace taskq::cli
