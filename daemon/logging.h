// Logging setup: spdlog to stderr. Under systemd (JOURNAL_STREAM names the stream stderr is
// connected to) lines carry no timestamp and start with a "<N>" syslog priority (sd-daemon(3)),
// so journald keeps the levels; elsewhere they start with a timestamp, "taskqd[PID]" and level.
#pragma once

#include <string>

#include "common/status.h"

namespace taskq {

Status SetUpLogging(const std::string& level, const std::string& name);

}  // namespace taskq
