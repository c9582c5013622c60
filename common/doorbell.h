// The doorbell: a FIFO in the daemon's state directory through which clients tell the supervisor
// something happened (DESIGN §5). The daemon holds it open O_RDWR, so a client's non-blocking
// open fails with ENXIO exactly when no daemon runs. A full pipe is fine: a wake is pending.
#pragma once

#include <string>

namespace taskq {

inline constexpr char kDoorbellWork = 'w';      // new tasks are queued (process policy)
inline constexpr char kDoorbellPing = 'p';      // answer by bumping pong_seq
inline constexpr char kDoorbellShutdown = 'q';  // drain and exit, as on SIGTERM

std::string DoorbellPath(const std::string& state_dir);
// Sends one byte; false when no daemon listens.
bool RingDoorbell(const std::string& state_dir, char what);

}  // namespace taskq
