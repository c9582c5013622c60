#include "common/metrics.h"

#include <unistd.h>

#include <array>
#include <map>
#include <vector>

#include "common/segment.h"
#include "common/worker_lifecycle.h"
#include "fmt/format.h"

namespace taskq {
namespace {

// Upper bounds of the wait and run time buckets, in seconds: from a trivial in-process task
// (tens of microseconds) to a build job of an hour.
constexpr std::array<double, 13> kBucketBounds = {0.0001, 0.001, 0.01, 0.1, 0.5, 1,   5,
                                                  10,     30,    60,   300, 900, 3600};

struct TimeHistogram {
  std::array<uint64_t, kBucketBounds.size()> buckets{};  // not cumulative: one count per bucket
  uint64_t count = 0;
  double sum_s = 0;

  void Add(uint64_t us) {
    const double s = static_cast<double>(us) / 1e6;
    for (size_t i = 0; i < kBucketBounds.size(); ++i) {
      if (s <= kBucketBounds[i]) {
        ++buckets[i];
        break;
      }
    }
    ++count;
    sum_s += s;
  }
};

struct GroupFigures {
  uint64_t queued = 0;
  uint64_t running = 0;
  std::array<uint64_t, kTaskStateCount> by_state{};
  TimeHistogram wait;
  TimeHistogram run;
};

// Label values: group and queue names are [A-Za-z0-9_.-], but a label is escaped all the same.
std::string Escape(const std::string& value) {
  std::string out;
  for (const char c : value) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

class Writer {
 public:
  explicit Writer(const std::string& queue) : queue_label_("queue=\"" + Escape(queue) + "\"") {}

  void Family(const char* name, const char* type, const char* help) {
    text_ += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
  }
  // `labels` are extra labels after queue, already formatted: `group="a",state="failed"`.
  void Sample(const std::string& name, const std::string& labels, double value) {
    text_ += fmt::format("{}{{{}{}{}}} {}\n", name, queue_label_, labels.empty() ? "" : ",", labels,
                         value);
  }
  void Histogram(const char* name, const std::string& labels, const TimeHistogram& h) {
    uint64_t cumulative = 0;
    for (size_t i = 0; i < kBucketBounds.size(); ++i) {
      cumulative += h.buckets[i];
      Sample(std::string(name) + "_bucket", fmt::format("{},le=\"{}\"", labels, kBucketBounds[i]),
             static_cast<double>(cumulative));
    }
    Sample(std::string(name) + "_bucket", labels + ",le=\"+Inf\"", static_cast<double>(h.count));
    Sample(std::string(name) + "_sum", labels, h.sum_s);
    Sample(std::string(name) + "_count", labels, static_cast<double>(h.count));
  }
  std::string Take() { return std::move(text_); }

 private:
  std::string queue_label_;
  std::string text_;
};

std::string GroupLabel(const std::string& group) { return "group=\"" + Escape(group) + "\""; }

}  // namespace

std::string RenderMetrics(Segment& segment, const std::string& queue) {
  const std::vector<GroupInfo> groups = segment.Groups();
  std::map<std::string, GroupFigures> figures;
  for (const GroupInfo& group : groups) figures[group.name];
  for (const TaskInfo& task : segment.List()) {
    // A task of a removed group row has no name; it is counted under "".
    GroupFigures& f = figures[task.group];
    const TaskRecord& r = task.record;
    if (task.state == TaskState::kQueued) ++f.queued;
    if (task.state == TaskState::kRunning) ++f.running;
    if (IsFinished(task.state)) ++f.by_state[static_cast<uint32_t>(task.state)];
    const bool started = r.started_at_us != 0 && r.started_at_us >= r.submitted_at_us;
    if (started) f.wait.Add(r.started_at_us - r.submitted_at_us);
    if (IsFinished(task.state) && started && r.finished_at_us >= r.started_at_us) {
      f.run.Add(r.finished_at_us - r.started_at_us);
    }
  }

  SegmentHeader* h = segment.header();
  Writer out(queue);
  out.Family("taskq_daemon_up", "gauge", "1 while a taskqd serves the queue, else 0");
  out.Sample("taskq_daemon_up", "", segment.SupervisorAlive() ? 1 : 0);
  out.Family("taskq_capacity", "gauge", "task slots of the segment (queued, running and retained)");
  out.Sample("taskq_capacity", "", segment.capacity());
  out.Family("taskq_submitted_total", "counter", "tasks ever submitted to the queue");
  out.Sample("taskq_submitted_total", "", static_cast<double>(h->submitted_total));
  out.Family("taskq_finished_total", "counter", "tasks ever finished (any end state)");
  out.Sample("taskq_finished_total", "", static_cast<double>(h->finished_total));
  out.Family("taskq_lock_repairs_total", "counter",
             "times a locker found the segment lock's holder dead and repaired the queue");
  out.Sample("taskq_lock_repairs_total", "", static_cast<double>(h->lock_repairs));

  std::array<uint64_t, kWorkerStateCount> workers{};
  for (const WorkerEntry& w : h->workers) {
    const uint32_t state = w.state.load(std::memory_order_relaxed);
    if (w.pid.load(std::memory_order_relaxed) > 0 && state < kWorkerStateCount) ++workers[state];
  }
  out.Family("taskq_workers", "gauge", "pool worker processes alive, by state (all groups)");
  for (uint32_t s = 1; s < kWorkerStateCount; ++s) {  // "empty" rows have no process
    out.Sample("taskq_workers",
               fmt::format("state=\"{}\"", WorkerStateName(static_cast<WorkerState>(s))),
               static_cast<double>(workers[s]));
  }

  out.Family("taskq_group_info", "gauge", "one per group: its policy (value 1)");
  for (const GroupInfo& group : groups) {
    out.Sample(
        "taskq_group_info",
        GroupLabel(group.name) + fmt::format(",policy=\"{}\"", PolicyName(group.settings.policy)),
        1);
  }
  out.Family("taskq_group_paused", "gauge", "1 while the group is paused (starts no task)");
  for (const GroupInfo& group : groups) {
    out.Sample("taskq_group_paused", GroupLabel(group.name), group.paused ? 1 : 0);
  }
  out.Family("taskq_group_workers", "gauge",
             "pool policy: worker processes the group runs (its setting, 0 resolved to the online "
             "CPUs); 0 for other policies");
  for (const GroupInfo& group : groups) {
    uint32_t n = 0;
    if (group.settings.policy == Policy::kPool) {
      n = ResolveWorkers(group.settings.workers);
    }
    out.Sample("taskq_group_workers", GroupLabel(group.name), n);
  }
  out.Family("taskq_group_max_parallel", "gauge",
             "process policy: tasks the group runs at once (0 = unbounded)");
  for (const GroupInfo& group : groups) {
    out.Sample("taskq_group_max_parallel", GroupLabel(group.name), group.settings.max_parallel);
  }

  out.Family("taskq_group_queued", "gauge",
             "tasks waiting to start (delayed and dependent ones too)");
  for (const auto& [name, f] : figures) {
    out.Sample("taskq_group_queued", GroupLabel(name), static_cast<double>(f.queued));
  }
  out.Family("taskq_group_running", "gauge", "tasks running now");
  for (const auto& [name, f] : figures) {
    out.Sample("taskq_group_running", GroupLabel(name), static_cast<double>(f.running));
  }
  out.Family("taskq_group_finished", "gauge",
             "finished tasks still retained in the segment, by end state (eviction lowers it)");
  for (const auto& [name, f] : figures) {
    for (uint32_t s = 0; s < kTaskStateCount; ++s) {
      const TaskState state = static_cast<TaskState>(s);
      if (!IsFinished(state)) continue;
      out.Sample("taskq_group_finished",
                 GroupLabel(name) + fmt::format(",state=\"{}\"", TaskStateName(state)),
                 static_cast<double>(f.by_state[s]));
    }
  }
  out.Family("taskq_group_wait_seconds", "histogram",
             "time from submission to start of the retained tasks that started");
  for (const auto& [name, f] : figures)
    out.Histogram("taskq_group_wait_seconds", GroupLabel(name), f.wait);
  out.Family("taskq_group_run_seconds", "histogram",
             "time from start to end of the retained finished tasks that started");
  for (const auto& [name, f] : figures)
    out.Histogram("taskq_group_run_seconds", GroupLabel(name), f.run);
  return out.Take();
}

}  // namespace taskq
