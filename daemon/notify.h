// The systemd notify protocol (sd_notify via libsystemd). Outside systemd (no NOTIFY_SOCKET)
// every call is a no-op. Tests bind a datagram socket, point NOTIFY_SOCKET at it and read.
#pragma once

#include <cstdint>
#include <string>

namespace taskq {

void NotifyReady(const std::string& status);
void NotifyStatus(const std::string& status);
void NotifyReloading();
void NotifyStopping(const std::string& status);
void NotifyWatchdog();
// The watchdog interval systemd asked for (WatchdogSec=), 0 when none.
uint64_t WatchdogIntervalUs();

}  // namespace taskq
