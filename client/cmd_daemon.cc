// taskq stats, ping, shutdown, purge, doctor: the queue and its daemon as a whole.
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <iostream>

#include "client/cli.h"
#include "common/json_text.h"
#include "common/segment.h"
#include "fmt/format.h"
#include "nlohmann/json.hpp"

namespace taskq::cli {

nlohmann::json StatsJson(Client& client, const QueueStats& s) {
  nlohmann::json counts;
  for (uint32_t i = static_cast<uint32_t>(TaskState::kQueued); i < kTaskStateCount; ++i) {
    counts[TaskStateName(static_cast<TaskState>(i))] = s.by_state[i];
  }
  nlohmann::json j;
  j["queue"] = client.options().queue;
  j["daemon_running"] = s.daemon_running;
  j["pid"] = s.daemon_running ? nlohmann::json(s.daemon.pid) : nlohmann::json();
  j["ready"] = s.daemon.ready;
  j["policy"] = s.daemon_running ? nlohmann::json(PolicyName(s.daemon.policy)) : nlohmann::json();
  j["workers"] = s.daemon.workers;
  j["workers_wanted"] = s.daemon.workers_wanted;
  j["max_parallel"] = s.daemon.max_parallel;
  j["running_processes"] = s.daemon.running_processes;
  j["uptime_us"] = s.daemon.uptime_us;
  j["counts"] = counts;
  j["queue_depth"] = s.queue_depth;
  j["capacity"] = s.capacity;
  j["submitted_total"] = s.submitted_total;
  j["finished_total"] = s.finished_total;
  j["throughput_per_s"] = s.throughput_per_s;
  j["lock_repairs"] = s.lock_repairs;
  j["durability"] = DurabilityName(s.durability);
  j["journal"] = {
      {"entries", s.journal_entries}, {"synced", s.journal_synced}, {"syncs", s.journal_syncs}};
  j["groups"] = nlohmann::json::array();
  for (const QueueStats::Group& group : s.groups) j["groups"].push_back(GroupJson(group));
  return j;
}

int RunStats(const GlobalArgs& global) {
  int code = 0;
  std::unique_ptr<Client> client = ConnectOrReport(global, &code);
  if (!client) return code;
  QueueStats s = client->Stats();
  if (global.json) {
    std::cout << JsonText(StatsJson(*client, s)) << "\n";
    return 0;
  }
  std::printf("queue:       %s (capacity %u)\n", client->options().queue.c_str(), s.capacity);
  if (s.daemon_running) {
    std::printf("daemon:      pid %d, up %s, %s\n", s.daemon.pid,
                FormatDuration(s.daemon.uptime_us).c_str(), s.daemon.ready ? "ready" : "starting");
    if (s.daemon.policy == Policy::kPool) {
      std::printf("policy:      pool, %u of %u workers alive\n", s.daemon.workers,
                  s.daemon.workers_wanted);
    } else {
      std::printf("policy:      process, %u task processes running (max_parallel %u%s)\n",
                  s.daemon.running_processes, s.daemon.max_parallel,
                  s.daemon.max_parallel == 0 ? " = unbounded" : "");
    }
  } else {
    std::printf("daemon:      not running\n");
  }
  std::printf("queue depth: %llu\n", static_cast<unsigned long long>(s.queue_depth));
  std::string line;
  const nlohmann::json counts = StatsJson(*client, s)["counts"];
  for (auto& [name, value] : counts.items()) {
    line += fmt::format("{}{} {}", line.empty() ? "" : ", ", name, value.get<uint64_t>());
  }
  std::printf("tasks:       %s\n", line.c_str());
  std::printf("throughput:  %.1f tasks/s (last 10 s); %llu submitted, %llu finished in all\n",
              s.throughput_per_s, static_cast<unsigned long long>(s.submitted_total),
              static_cast<unsigned long long>(s.finished_total));
  if (s.durability == Durability::kMemory) {
    std::printf("durability:  memory (no journal)\n");
  } else {
    std::printf("durability:  %s: journal of %llu entries, %llu synced, %llu fdatasyncs\n",
                DurabilityName(s.durability), static_cast<unsigned long long>(s.journal_entries),
                static_cast<unsigned long long>(s.journal_synced),
                static_cast<unsigned long long>(s.journal_syncs));
  }
  for (const QueueStats::Group& group : s.groups) {
    std::printf("group:       %s (%s%s): %llu queued, %llu running, %llu finished\n",
                group.info.name.c_str(), DescribeGroupSettings(group.info).c_str(),
                group.info.paused ? ", paused" : "", static_cast<unsigned long long>(group.queued),
                static_cast<unsigned long long>(group.running),
                static_cast<unsigned long long>(group.finished));
  }
  return 0;
}

int RunPing(const GlobalArgs& global, double timeout_s) {
  int code = 0;
  std::unique_ptr<Client> client = ConnectOrReport(global, &code);
  if (!client) return code;
  DaemonInfo info;
  Status pinged = client->Ping(static_cast<int64_t>(timeout_s * 1000), &info);
  if (!pinged.ok()) {
    // No answer means no usable daemon, whatever the reason.
    return Report(Status::Unavailable(pinged.message()));
  }
  if (global.json) {
    std::cout << nlohmann::json{{"pid", info.pid},
                                {"ready", info.ready},
                                {"policy", PolicyName(info.policy)},
                                {"workers", info.workers},
                                {"uptime_us", info.uptime_us}}
                     .dump()
              << "\n";
  } else {
    std::printf("taskqd pid %d: %s, policy %s\n", info.pid, info.ready ? "ready" : "starting",
                PolicyName(info.policy));
  }
  return 0;
}

int RunReload(const GlobalArgs& global) {
  int code = 0;
  std::unique_ptr<Client> client = ConnectOrReport(global, &code);
  if (!client) return code;
  Status reloaded = client->Reload();
  if (!reloaded.ok()) return Report(reloaded);
  if (global.json) {
    std::cout << nlohmann::json{{"reload", "requested"}}.dump() << "\n";
  } else {
    std::printf("taskqd re-reads its configuration (its log says what changed)\n");
  }
  return 0;
}

int RunShutdown(const GlobalArgs& global, bool no_wait, double timeout_s, bool purge) {
  int code = 0;
  std::unique_ptr<Client> client = ConnectOrReport(global, &code);
  if (!client) return code;
  int64_t timeout_ms = timeout_s < 0 ? -1 : static_cast<int64_t>(timeout_s * 1000);
  Status stopped = client->Shutdown(!no_wait || purge, timeout_ms);
  if (!stopped.ok()) return Report(stopped);
  if (purge) {
    Options options = client->options();
    client.reset();
    return RunPurge(global);
  }
  return 0;
}

int RunPurge(const GlobalArgs& global) {
  Options options;
  Status resolved = Client::ResolveOptions({global.queue, global.config}, &options);
  if (!resolved.ok()) return Report(resolved);
  // The state directory is the configuration's, never a path read from the segment: purge deletes
  // a tree, and must delete only the one this configuration names.
  const std::string state_dir = options.state_dir;
  {
    std::unique_ptr<Segment> segment;
    if (Segment::Attach(options, &segment).ok() && segment->read_only() && ::geteuid() != 0) {
      return Report(Status::Unavailable(
          fmt::format("permission denied: `taskq purge` of queue '{}' is for taskqd's user (uid "
                      "{}) and root",
                      options.queue, segment->owner_uid())));
    }
  }
  Status removed = Segment::Remove(options);
  if (!removed.ok()) return Report(removed);
  std::error_code ec;
  std::filesystem::remove_all(state_dir, ec);
  if (ec) {
    return Report(Status::Failed(fmt::format("cannot remove {}: {}", state_dir, ec.message())));
  }
  return 0;
}

int RunDoctor(const GlobalArgs& global, bool repair) {
  int code = 0;
  std::unique_ptr<Client> client = ConnectOrReport(global, &code);
  if (!client) return code;
  std::vector<std::string> problems = client->segment().Check();
  std::vector<std::string> fixed;
  // A member asks the daemon even for a healthy segment: repair is for admins, and a member is
  // told so whatever the segment's state.
  if (repair && (!problems.empty() || !client->writes_directly())) {
    Status repaired = client->Repair(&fixed);
    if (!repaired.ok()) return Report(repaired);
    // Running tasks whose runner vanished are the daemon's to settle; without a daemon, do it.
    if (client->writes_directly() && !client->segment().SupervisorAlive()) {
      for (auto& [slot, record] : client->segment().Running()) {
        client->segment().RunnerDied(slot, record.id, "runner vanished (doctor --repair)", 0);
        fixed.push_back(fmt::format("task {} had no runner: requeued or marked lost", record.id));
      }
    }
  }
  if (global.json) {
    std::cout << JsonText(
                     {{"healthy", problems.empty()}, {"problems", problems}, {"repaired", fixed}})
              << "\n";
  } else {
    if (problems.empty())
      std::printf("segment of queue '%s' is healthy\n", client->options().queue.c_str());
    for (const auto& p : problems) std::printf("problem: %s\n", p.c_str());
    for (const auto& f : fixed) std::printf("repaired: %s\n", f.c_str());
  }
  if (problems.empty()) return 0;
  if (!repair) return 1;
  return client->segment().Check().empty() ? 0 : 1;
}

}  // namespace taskq::cli
