// Logging setup: spdlog to stderr. Under systemd (JOURNAL_STREAM set) lines carry no timestamp
// and start with a "<N>" syslog priority, so journald keeps the levels.
#pragma once

#include <string>

#include "common/status.h"

namespace taskq {

Status SetUpLogging(const std::string& level, const std::string& name);

}  // namespace taskq
