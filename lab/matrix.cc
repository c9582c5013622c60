// Running the lab's cells: for each repetition a fresh private taskqd (or the --queue daemon), one
// probe task to measure the cold path, then the batch, submitted at once and waited for; the
// per-task timings and resource figures come from the task records.
#include <unistd.h>

#include <chrono>
#include <cstdio>

#include "client/client.h"
#include "fmt/format.h"
#include "lab/lab.h"

namespace taskq::lab {
namespace {

using Clock = std::chrono::steady_clock;

double Since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

double Seconds(const timeval& tv) { return tv.tv_sec + tv.tv_usec / 1e6; }

uint32_t CapacityFor(uint32_t tasks) {
  uint32_t capacity = 1024;
  while (capacity < tasks * 2 + 64 && capacity < (1u << 22)) capacity *= 2;
  return capacity;
}

// Waits for `ids` in slices so that an interrupt or the cell's time limit is noticed.
Status WaitAll(Client& client, const std::vector<uint64_t>& ids, double timeout_s,
               std::vector<TaskInfo>* tasks) {
  const auto t0 = Clock::now();
  for (;;) {
    Status s = client.Wait(ids, 200, tasks);
    if (s.code() != StatusCode::kTimedOut) return s;
    if (Interrupted()) return Status::Failed("interrupted");
    if (Since(t0) > timeout_s) {
      return Status::TimedOut(fmt::format("tasks unfinished after {:.0f} s", timeout_s));
    }
  }
}

TaskSpec ProbeSpec(const TaskSpec& spec) {
  TaskSpec probe = spec;
  if (probe.kind == TaskKind::kCpu) probe.cpu.count = std::min<uint64_t>(probe.cpu.count, 1000);
  return probe;
}

Status WithContext(const Status& s, const std::string& prefix) {
  switch (s.code()) {
    case StatusCode::kInvalid:
      return Status::Invalid(prefix + s.message());
    case StatusCode::kUnavailable:
      return Status::Unavailable(prefix + s.message());
    case StatusCode::kQueueFull:
      return Status::QueueFull(prefix + s.message());
    case StatusCode::kTimedOut:
      return Status::TimedOut(prefix + s.message());
    default:
      return Status::Failed(prefix + s.message());
  }
}

Status RunRep(const LabOptions& lab, const Cell& cell, RepSample* sample) {
  LabDaemon daemon;
  std::string queue = lab.queue, config = lab.config;
  if (queue.empty()) {
    TASKQ_RETURN_IF_ERROR(daemon.Start(lab.taskqd, cell.policy, cell.workers,
                                       CapacityFor(cell.tasks), &sample->startup_s));
    queue = daemon.queue();
    config = daemon.config_path();
  }
  std::unique_ptr<Client> client;
  TASKQ_RETURN_IF_ERROR(Client::Connect({queue, config}, &client));
  std::vector<TaskInfo> tasks;
  std::vector<uint64_t> ids;
  auto t0 = Clock::now();
  TASKQ_RETURN_IF_ERROR(client->Submit({ProbeSpec(cell.workload.spec)}, {}, &ids));
  TASKQ_RETURN_IF_ERROR(WaitAll(*client, ids, lab.cell_timeout_s, &tasks));
  sample->first_task_s = Since(t0);

  std::vector<TaskSpec> specs(cell.tasks, cell.workload.spec);
  for (uint32_t i = 0; i < cell.tasks; ++i) specs[i].cpu.seed = cell.workload.spec.cpu.seed + i;
  ids.clear();
  SubmitOptions submit;
  submit.block = true;
  t0 = Clock::now();
  TASKQ_RETURN_IF_ERROR(client->Submit(specs, submit, &ids));
  TASKQ_RETURN_IF_ERROR(WaitAll(*client, ids, lab.cell_timeout_s, &tasks));
  sample->wall_s = Since(t0);

  for (const TaskInfo& info : tasks) {
    const TaskRecord& r = info.record;
    if (info.state != TaskState::kSucceeded) ++sample->failed;
    sample->user_s += r.user_us / 1e6;
    sample->sys_s += r.sys_us / 1e6;
    if (r.started_at_us >= r.submitted_at_us && r.started_at_us != 0) {
      sample->wait_us.push_back(static_cast<double>(r.started_at_us - r.submitted_at_us));
    }
    if (r.finished_at_us >= r.started_at_us && r.started_at_us != 0) {
      double run = static_cast<double>(r.finished_at_us - r.started_at_us);
      sample->run_us.push_back(run);
      sample->run_total_us += run;
    }
    sample->read_bytes += r.read_bytes;
    sample->write_bytes += r.write_bytes;
    sample->vol_ctxsw += r.vol_ctxsw;
    sample->invol_ctxsw += r.invol_ctxsw;
  }
  client.reset();
  if (lab.queue.empty()) {
    rusage usage{};
    daemon.Stop(&usage);
    sample->daemon_user_s = Seconds(usage.ru_utime);
    sample->daemon_sys_s = Seconds(usage.ru_stime);
  }
  return Status::Ok();
}

}  // namespace

std::string WorkersText(uint32_t workers) {
  return workers == 0 ? "unbounded" : std::to_string(workers);
}

std::string CellName(const Cell& cell) {
  return fmt::format("{} {} w={} n={}", cell.workload.label, PolicyName(cell.policy),
                     WorkersText(cell.workers), cell.tasks);
}

std::string SeriesTitle(const Cell& cell) {
  const TaskSpec& spec = cell.workload.spec;
  std::string work;
  switch (spec.kind) {
    case TaskKind::kCpu:
      work = fmt::format("cpu work (list_append {:g}M)", spec.cpu.count / 1e6);
      break;
    case TaskKind::kIo:
      work = fmt::format("io work (write {} B{})", spec.io.bytes, spec.io.fsync ? ", fsync" : "");
      break;
    case TaskKind::kExec:
      work = "command";
      for (const std::string& word : spec.exec.argv) work += " " + word;
      break;
  }
  return work + (cell.policy == Policy::kPool ? ", a pool of workers" : ", a process per task");
}

Status RunOneMore(const LabOptions& lab, CellResult* result) {
  if (lab.progress) {
    std::fprintf(stderr, "\r\033[K[rerun] %s  rep %zu", CellName(result->cell).c_str(),
                 result->reps.size() + 1);
    std::fflush(stderr);
  }
  RepSample sample;
  Status s = RunRep(lab, result->cell, &sample);
  if (lab.progress) std::fprintf(stderr, "\r\033[K");
  if (!s.ok()) return WithContext(s, CellName(result->cell) + ": ");
  result->reps.push_back(std::move(sample));
  Summarise(result);
  return Status::Ok();
}

Status RunCells(const LabOptions& lab, const std::vector<Cell>& cells,
                std::vector<CellResult>* results) {
  for (size_t c = 0; c < cells.size(); ++c) {
    CellResult result;
    result.cell = cells[c];
    for (uint32_t rep = 0; rep < lab.reps; ++rep) {
      if (lab.progress) {
        std::fprintf(stderr, "\r\033[K[%zu/%zu] %s  rep %u/%u", c + 1, cells.size(),
                     CellName(cells[c]).c_str(), rep + 1, lab.reps);
        std::fflush(stderr);
      }
      RepSample sample;
      Status s = RunRep(lab, cells[c], &sample);
      if (!s.ok()) {
        if (lab.progress) std::fprintf(stderr, "\r\033[K");
        return WithContext(s, CellName(cells[c]) + ": ");
      }
      result.reps.push_back(std::move(sample));
    }
    Summarise(&result);
    results->push_back(std::move(result));
  }
  if (lab.progress) std::fprintf(stderr, "\r\033[K");
  return Status::Ok();
}

}  // namespace taskq::lab
