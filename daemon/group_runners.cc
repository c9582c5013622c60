#include "daemon/group_runners.h"

#include "daemon/recovery.h"
#include "daemon/state_dir.h"
#include "spdlog/spdlog.h"

namespace taskq {

Options GroupRunners::OptionsFor(const Options& top, const GroupInfo& group) {
  Options o = top;
  if (group.index == 0) return o;  // `default` is the top level itself (already resolved)
  o.policy = group.settings.policy;
  o.workers = ResolveWorkers(group.settings.workers);
  if (o.workers > kMaxWorkers) o.workers = kMaxWorkers;
  o.max_parallel = group.settings.max_parallel;
  return o;
}

std::unique_ptr<Executor> GroupRunners::Make(uint32_t row, const Options& options) {
  ExecutorContext context = base_;
  context.group = row;
  if (options.policy == Policy::kSlurm) {
    return options.slurm.mode == SlurmMode::kPilot ? MakeSlurmPilotExecutor(context, options)
                                                   : MakeSlurmExecutor(context, options);
  }
  return options.policy == Policy::kPool ? MakePoolExecutor(context, options)
                                         : MakePerTaskExecutor(context, options);
}

void GroupRunners::Drain(std::unique_ptr<Executor> executor) {
  executor->BeginShutdown();
  if (!executor->Stopped()) draining_.push_back(std::move(executor));
}

void GroupRunners::Reconcile(const Options& options) {
  if (shutting_down_) return;
  const std::vector<GroupInfo> groups = base_.segment->Groups();
  std::map<uint32_t, bool> present;
  for (const GroupInfo& group : groups) {
    present[group.index] = true;
    const Options wanted = OptionsFor(options, group);
    auto it = runners_.find(group.index);
    if (it != runners_.end() && it->second.name != group.name) {
      // The row was removed and reused for another group in between: start afresh.
      Drain(std::move(it->second.executor));
      runners_.erase(it);
      it = runners_.end();
    }
    if (it == runners_.end()) {
      Runner runner{group.name, wanted, Make(group.index, wanted)};
      runner.executor->Start();
      spdlog::info("group '{}': policy {}, {} {}", group.name, PolicyName(wanted.policy),
                   wanted.policy == Policy::kPool ? wanted.workers : wanted.max_parallel,
                   wanted.policy == Policy::kPool ? "workers" : "max_parallel (0 = unbounded)");
      runners_.emplace(group.index, std::move(runner));
      continue;
    }
    Runner& runner = it->second;
    if (!RunnerSettingsDiffer(runner.options, wanted)) continue;
    if (!runner.executor->ApplyLive(wanted)) {
      spdlog::info("group '{}': replacing the {} runners (policy {} -> {})", group.name,
                   PolicyName(runner.options.policy), PolicyName(runner.options.policy),
                   PolicyName(wanted.policy));
      Drain(std::move(runner.executor));
      runner.executor = Make(group.index, wanted);
      runner.executor->Start();
    }
    runner.options = wanted;
  }
  for (auto it = runners_.begin(); it != runners_.end();) {
    if (present.count(it->first) != 0) {
      ++it;
      continue;
    }
    spdlog::info("group '{}' removed: its runners finish their task and stop", it->second.name);
    Drain(std::move(it->second.executor));
    it = runners_.erase(it);
  }
  if (!reconciled_once_) LoseUnadoptedSlurmTasks(*base_.segment, base_.supervisor_pid);
  reconciled_once_ = true;
  OnWork();  // a resumed group or a new executor may find work waiting
}

void GroupRunners::OnWork() {
  if (shutting_down_) return;
  for (auto& [row, runner] : runners_) runner.executor->OnWork();
}

bool GroupRunners::OnChildExit(pid_t pid, int wait_status, const rusage& usage) {
  bool handled = false;
  for (auto& [row, runner] : runners_) {
    if (runner.executor->OnChildExit(pid, wait_status, usage)) {
      handled = true;
      break;
    }
  }
  for (auto& old : draining_) handled = handled || old->OnChildExit(pid, wait_status, usage);
  std::erase_if(draining_, [](const auto& e) { return e->Stopped(); });
  return handled;
}

void GroupRunners::OnTick() {
  if (shutting_down_) return;
  for (auto& [row, runner] : runners_) runner.executor->OnTick();
  std::erase_if(draining_, [](const auto& e) { return e->Stopped(); });
}

void GroupRunners::BeginShutdown() {
  shutting_down_ = true;
  for (auto& [row, runner] : runners_) runner.executor->BeginShutdown();
  for (auto& old : draining_) old->BeginShutdown();
}

void GroupRunners::KillAll() {
  for (auto& [row, runner] : runners_) runner.executor->KillAll();
  for (auto& old : draining_) old->KillAll();
}

bool GroupRunners::Pause(const TaskRecord& running, bool pause) {
  for (auto& [row, runner] : runners_) {
    if (runner.executor->Pause(running, pause)) return true;
  }
  for (auto& old : draining_) {
    if (old->Pause(running, pause)) return true;
  }
  return false;
}

bool GroupRunners::Kill(const TaskRecord& running, int signal, bool escalate) {
  for (auto& [row, runner] : runners_) {
    if (runner.executor->Kill(running, signal, escalate)) return true;
  }
  for (auto& old : draining_) {
    if (old->Kill(running, signal, escalate)) return true;
  }
  return false;
}

bool GroupRunners::Stopped() const {
  for (const auto& [row, runner] : runners_) {
    if (!runner.executor->Stopped()) return false;
  }
  for (const auto& old : draining_) {
    if (!old->Stopped()) return false;
  }
  return true;
}

bool GroupRunners::OnlyKeepersLeft() const {
  for (const auto& [row, runner] : runners_) {
    if (!runner.executor->OnlyKeepersLeft()) return false;
  }
  for (const auto& old : draining_) {
    if (!old->OnlyKeepersLeft()) return false;
  }
  return true;
}

void GroupRunners::KillAllButKeepers() {
  for (auto& [row, runner] : runners_) runner.executor->KillAllButKeepers();
  for (auto& old : draining_) old->KillAllButKeepers();
}

bool GroupRunners::Ready() const {
  for (const auto& [row, runner] : runners_) {
    if (!runner.executor->Ready()) return false;
  }
  return true;
}

uint32_t GroupRunners::ProcessCount() const {
  uint32_t n = 0;
  for (const auto& [row, runner] : runners_) n += runner.executor->ProcessCount();
  for (const auto& old : draining_) n += old->ProcessCount();
  return n;
}

}  // namespace taskq
