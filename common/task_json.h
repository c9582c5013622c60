// The JSON form of a task that `status`, `wait`, `list` and `submit --wait` print with --json.
// Its keys are a documented contract (README "JSON output"); add keys, never rename them.
#pragma once

#include <nlohmann/json.hpp>

#include "common/task.h"

namespace taskq {

nlohmann::json TaskToJson(const TaskInfo& info);

}  // namespace taskq
