// What Slurm says about the job that runs a task (its state, why it pends, its node), kept beside
// the queue in <state_dir>/slurm/jobs/<id>.json. The `slurm` executor writes it when something
// changes; `taskq status` reads it. The task record holds the job id only (the segment layout is
// not changed for this), so a PENDING job's reason and the node live here.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "common/status.h"

namespace taskq {

struct SlurmDetails {
  uint32_t job_id = 0;
  std::string state;   // PENDING, RUNNING, ... as squeue says; "LEASED" for a pilot's task
  std::string reason;  // squeue's Reason: Resources, Priority, ...; "" when None
  std::string node;    // where it runs; "" while pending
  bool operator==(const SlurmDetails&) const = default;
};

std::string SlurmDetailsPath(const std::string& state_dir, uint64_t task_id);
// Replaces the file atomically (write beside it, rename).
Status WriteSlurmDetails(const std::string& state_dir, uint64_t task_id,
                         const SlurmDetails& details);
// False when there is no such file or it does not parse.
bool ReadSlurmDetails(const std::string& state_dir, uint64_t task_id, SlurmDetails* details);
// A pilot's tasks share its job and node, so the `slurm` executor's pilots write no file per task
// (one inode per task cost more than the task: docs/SCALE-OUT.md): each pilot appends one line,
// {"job_id", "pilot", "node"}, to <state_dir>/slurm/pilot-nodes once its node is known.
Status AppendPilotNode(const std::string& state_dir, uint32_t job_id, uint32_t pilot,
                       const std::string& node);
// Tasks' details for a listing: a task's own file when there is one, else the pilot that ran job
// `job_id` ("LEASED", reason "pilot N", its node); false when neither knows the task. The
// pilot-nodes file is read once per state directory, not once per task.
class SlurmDetailsFinder {
 public:
  bool Find(const std::string& state_dir, uint64_t task_id, uint32_t job_id, SlurmDetails* details);

 private:
  std::string pilots_of_;                    // the state directory `pilots_` was read from
  std::map<uint32_t, SlurmDetails> pilots_;  // by job id: the last line for the job wins
};
// One task's details (a finder used once).
bool FindSlurmDetails(const std::string& state_dir, uint64_t task_id, uint32_t job_id,
                      SlurmDetails* details);
// One line for `taskq status`: "job 12 PENDING (Resources)", "job 12 RUNNING on n2".
std::string DescribeSlurmDetails(const SlurmDetails& details);

}  // namespace taskq
