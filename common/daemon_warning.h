// A warning only taskqd reports: its logger is named "taskqd". Segment code runs in clients too,
// whose stdout is their output and whose stderr is for their one-line errors, so there it says
// nothing.
#pragma once

#include <string>

#include "spdlog/spdlog.h"

namespace taskq {

inline void WarnInDaemon(const std::string& line) {
  if (auto logger = spdlog::get("taskqd")) logger->warn("{}", line);
}

}  // namespace taskq
