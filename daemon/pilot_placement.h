// Which pilot gets a task (issue 19): a task is only leased to a pilot whose remaining walltime
// covers its timeout plus kill_grace, and among those to the one with the fewest leases, so
// tasks spread over the pilots (and their nodes). Pure functions, tested without a cluster.
#pragma once

#include <cstdint>
#include <vector>

namespace taskq {

struct PilotView {
  bool connected = false;
  uint32_t slots = 0;            // tasks it runs at once
  uint32_t leased = 0;           // tasks it runs now
  uint64_t walltime_end_us = 0;  // when Slurm ends its job at the latest (conservative)
};

// The index of the pilot for a task with `timeout_ms` (0 = none: any pilot with a free slot), or
// -1 when none fits now.
int ChoosePilot(const std::vector<PilotView>& pilots, uint64_t timeout_ms, uint64_t grace_ms,
                uint64_t now_us);

// True when no pilot could ever run it: its timeout plus grace exceeds a fresh pilot's time.
bool LongerThanAnyPilot(uint64_t timeout_ms, uint64_t grace_ms, uint64_t pilot_time_ms);

}  // namespace taskq
