#include "daemon/pilot_placement.h"

#include <cstddef>

namespace taskq {

int ChoosePilot(const std::vector<PilotView>& pilots, uint64_t timeout_ms, uint64_t grace_ms,
                uint64_t now_us) {
  int best = -1;
  for (size_t i = 0; i < pilots.size(); ++i) {
    const PilotView& p = pilots[i];
    if (!p.connected || p.leased >= p.slots) continue;
    if (timeout_ms > 0) {
      const uint64_t needed_us = (timeout_ms + grace_ms) * 1000;
      if (p.walltime_end_us <= now_us || p.walltime_end_us - now_us < needed_us) continue;
    }
    if (best < 0 || p.leased < pilots[static_cast<size_t>(best)].leased) {
      best = static_cast<int>(i);
    }
  }
  return best;
}

bool LongerThanAnyPilot(uint64_t timeout_ms, uint64_t grace_ms, uint64_t pilot_time_ms) {
  return timeout_ms > 0 && timeout_ms + grace_ms > pilot_time_ms;
}

}  // namespace taskq
