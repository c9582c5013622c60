// What kind of work it is and what to use for it. The class comes from where a task's wall time
// went: on a CPU, runnable but waiting for one (a busy machine), blocked on block I/O, or asleep
// and waiting on anything else (a timer, a pipe, the network). The advice is one line: the
// measured cells when they tell the choices apart beyond their noise, else the class's choice.
#include <algorithm>
#include <cmath>

#include "fmt/format.h"
#include "lab/lab.h"

namespace taskq::lab {
namespace {

std::string Share(double share) { return fmt::format("{:.0f}%", 100 * share); }

std::string Choice(Policy policy, uint32_t workers) {
  return fmt::format("{}, {} worker{}", PolicyName(policy), workers, workers == 1 ? "" : "s");
}

}  // namespace

// Time spent runnable but waiting for a CPU is the machine's, not the work's: the other shares are
// judged against the rest (`own`), so that a busy machine does not turn I/O into CPU work.
std::string Classify(const WorkProfile& p, std::string* why) {
  if (p.tasks == 0) {
    *why = "no finished tasks to judge";
    return "unknown";
  }
  const double bytes = p.read_bytes_per_task + p.write_bytes_per_task;
  const double waited = std::max(0.0, p.cpu_wait_share), own = std::max(1e-9, 1 - waited);
  const double busy = std::min(1.0, p.cpu_share / own), off = 1 - busy;
  const std::string of_own =
      p.cpu_wait_share >= 0 ? "of the time they were not waiting for a CPU" : "of their run time";
  if (busy >= 0.6 && waited >= 0.2) {
    *why = fmt::format(
        "runnable but waiting for a CPU {} of their run time (/proc/<pid>/schedstat) and on a "
        "CPU {} of the rest: CPU work on a machine with more runnable work than cores",
        Share(waited), Share(busy));
    return "waiting on a CPU";
  }
  if (busy >= 0.6) {
    *why = fmt::format("the tasks were on a CPU {} {}", Share(busy), of_own);
    return "cpu-bound";
  }
  if (p.cpu_wait_share < 0 && p.invol_ctxsw_per_task >= 1 &&
      p.invol_ctxsw_per_task > 2 * p.vol_ctxsw_per_task) {
    *why = fmt::format(
        "on a CPU {} of their run time, but preempted {:.1f} times per task against {:.1f} "
        "voluntary waits: they waited for a CPU (more runnable work than cores), not for I/O",
        Share(busy), p.invol_ctxsw_per_task, p.vol_ctxsw_per_task);
    return "waiting on a CPU";
  }
  if (busy <= 0.35) {
    if (p.blkio_share >= 0) {
      const double blocked = std::min(1.0, p.blkio_share / own);
      if (blocked >= 0.5 * off) {
        *why = fmt::format("blocked on block I/O {} {} (delay accounting), on a CPU {}",
                           Share(blocked), of_own, Share(busy));
        return "block I/O";
      }
      *why = fmt::format(
          "off a CPU {} {}, of which block I/O only {} (delay accounting): sleeping or waiting "
          "on something else (a timer, a pipe, the network, a lock)",
          Share(off), of_own, Share(blocked));
      return "waits, not I/O";
    }
    if (bytes > 0) {
      *why = fmt::format(
          "off a CPU {} {} with {:.0f} bytes of block I/O per task (delay accounting is off, "
          "kernel.task_delayacct = 0: the wait is put down to the I/O by its bytes)",
          Share(off), of_own, bytes);
      return "block I/O";
    }
    *why = fmt::format(
        "off a CPU {} {} with no block I/O ({:.1f} voluntary waits per task): sleeping or "
        "waiting on something else (a timer, a pipe, the network, a lock)",
        Share(off), of_own, p.vol_ctxsw_per_task);
    return "waits, not I/O";
  }
  *why = fmt::format("the tasks were on a CPU {} {}: part computing, part waiting", Share(busy),
                     of_own);
  return "mixed";
}

void ClassChoice(const std::string& kind, const WorkProfile& p, uint32_t cores, Policy* policy,
                 uint32_t* workers, std::string* why) {
  *workers = kind == "block I/O"        ? 2 * cores
             : kind == "waits, not I/O" ? 4 * cores
             : kind == "mixed"          ? 2 * cores
                                        : cores;
  const bool short_tasks = p.run_p50_us < 50000;
  *policy = short_tasks ? Policy::kPool : Policy::kProcess;
  *why = fmt::format(
      "{} {}; {}", kind,
      *workers == cores ? "wants one worker per core (more only queue for the same cores)"
                        : "wants more workers than cores (the tasks mostly wait)",
      short_tasks ? "tasks are short (run p50 < 50 ms): pool, as a process per task adds ~1 ms"
                  : "tasks are long (run p50 >= 50 ms): process, which costs little then and "
                    "isolates each task");
}

Advice Advise(const std::vector<CellResult>& results, const WorkProfile& profile, uint32_t cores) {
  Advice advice;
  std::string why_class, why_choice;
  const std::string kind = Classify(profile, &why_class);
  Policy class_policy;
  uint32_t class_workers;
  ClassChoice(kind, profile, cores, &class_policy, &class_workers, &why_choice);
  advice.evidence.push_back(fmt::format("class: {}: {}", kind, why_class));
  if (profile.from_probe) {
    const double other = std::max(
        0.0, 1 - profile.cpu_share - profile.cpu_wait_share - std::max(0.0, profile.blkio_share));
    advice.evidence.push_back(fmt::format(
        "wall time of a task (probe, {} run{}): {} on a CPU, {} waiting for a CPU, {}",
        profile.tasks, profile.tasks == 1 ? "" : "s", Share(profile.cpu_share),
        Share(profile.cpu_wait_share),
        profile.blkio_share >= 0
            ? fmt::format("{} blocked on block I/O, {} asleep or other waits",
                          Share(profile.blkio_share), Share(other))
            : fmt::format("{} asleep, blocked on I/O or other waits (delay accounting is off: "
                          "block I/O time not measured)",
                          Share(other))));
  }
  advice.evidence.push_back(fmt::format(
      "per task: {:.0f} bytes read, {:.0f} written (block I/O); {:.1f} voluntary, {:.1f} "
      "involuntary context switches; run p50 {:.1f} ms",
      profile.read_bytes_per_task, profile.write_bytes_per_task, profile.vol_ctxsw_per_task,
      profile.invol_ctxsw_per_task, profile.run_p50_us / 1000));
  advice.evidence.push_back(
      fmt::format("the class alone says: {}: {}", Choice(class_policy, class_workers), why_choice));

  const CellResult* best = nullptr;
  const CellResult* class_cell = nullptr;
  for (const CellResult& r : results) {
    if (best == nullptr || r.throughput > best->throughput) best = &r;
    if (r.cell.policy == class_policy && r.cell.workers == class_workers) class_cell = &r;
  }
  if (best == nullptr) {
    advice.policy = class_policy;
    advice.workers = class_workers;
    advice.followed = "class";
    advice.evidence.push_back("followed: the class (nothing was measured)");
  } else {
    std::string measured = "measured (tasks/s, spread of the batch's wall time):";
    for (const CellResult& r : results) {
      measured += fmt::format(" {} {:.1f} ({});", Choice(r.cell.policy, r.cell.workers),
                              r.throughput, SpreadText(r.spread_pct, r.reps.size()));
    }
    measured.pop_back();
    advice.evidence.push_back(measured);
    // The fewest workers (and, on a tie, the pool) within 5% of the best throughput.
    const CellResult* pick = best;
    for (const CellResult& r : results) {
      if (r.throughput >= 0.95 * best->throughput &&
          (r.cell.workers < pick->cell.workers ||
           (r.cell.workers == pick->cell.workers && r.cell.policy == Policy::kPool))) {
        pick = &r;
      }
    }
    advice.policy = pick->cell.policy;
    advice.workers = pick->cell.workers;
    const std::string pick_text = fmt::format(
        "{} {:.1f} tasks/s", Choice(pick->cell.policy, pick->cell.workers), pick->throughput);
    if (class_cell == nullptr) {
      advice.followed = "measurement";
      advice.evidence.push_back(fmt::format(
          "followed: the measurement ({}, the fewest workers within 5% of the best); the class's "
          "choice was not measured",
          pick_text));
    } else if (class_cell == pick) {
      advice.followed = "both";
      advice.evidence.push_back(fmt::format(
          "followed: the measurement and the class, which agree ({}, the fewest workers within "
          "5% of the best)",
          pick_text));
    } else {
      const Judgement j = Judge(pick->throughput / class_cell->throughput, 1, {pick, class_cell});
      const std::string versus =
          fmt::format("{} against the class's {} {:.1f} tasks/s: {:+.0f}%, noise {}", pick_text,
                      Choice(class_policy, class_workers), class_cell->throughput,
                      100 * (pick->throughput / class_cell->throughput - 1), NoiseText(j));
      if (j.conclusive()) {
        advice.followed = "measurement";
        advice.evidence.push_back(fmt::format(
            "followed: the measurement, not the class: {} (a difference beyond the noise)",
            versus));
      } else {
        advice.followed = "class";
        advice.policy = class_policy;
        advice.workers = class_workers;
        advice.evidence.push_back(fmt::format(
            "followed: the class, not the measurement: {} (not beyond the noise, so the "
            "measurement cannot tell them apart)",
            versus));
        for (size_t i = 0; i < results.size(); ++i) {
          if (&results[i] == pick || &results[i] == class_cell) advice.rerun.push_back(i);
        }
      }
    }
  }
  if (advice.followed == "measurement" && advice.workers > cores &&
      (kind == "cpu-bound" || kind == "waiting on a CPU")) {
    advice.evidence.push_back(fmt::format(
        "note: CPU work measured faster with more workers than the {} cores: on a shared "
        "machine more processes take a larger share of the cores from other users' work; on a "
        "quiet one they would only queue",
        cores));
  }
  advice.line = "use: " + Choice(advice.policy, advice.workers);
  return advice;
}

}  // namespace taskq::lab
