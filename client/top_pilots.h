// The PILOTS table of `taskq top`: the Slurm pilots of every group in `slurm.mode: pilot`, read
// from <state_dir>/slurm/pilots-group<row>.json, which the group's executor keeps up to date.
#pragma once

#include <string>
#include <vector>

#include "common/task.h"

namespace taskq::cli {

// "" when no group runs pilots.
std::string PilotsTable(const std::string& state_dir, const std::vector<GroupInfo>& groups);

}  // namespace taskq::cli
