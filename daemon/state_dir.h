// The daemon's state directory: logs/, io/, the doorbell and effective.yaml (the configuration
// runner processes load). Also the rules for what a reload may change.
#pragma once

#include <string>
#include <vector>

#include "common/options.h"
#include "common/status.h"

namespace taskq {

// Creates the state directory (and logs/, io/) with the configured access mode.
Status PrepareStateDir(const Options& resolved);
// Writes the effective configuration atomically (temp file + rename).
Status WriteEffectiveConfig(const Options& resolved, const std::string& path);

// Settings that only a restart can change, by name, where `before` and `after` differ.
std::vector<std::string> RestartOnlyChanges(const Options& before, const Options& after);
// Copies the restart-only settings of `running` into `next`.
void KeepRestartOnlyFields(const Options& running, Options* next);
// True when workers or task processes must be replaced to apply `after`.
bool RunnerSettingsDiffer(const Options& before, const Options& after);

}  // namespace taskq
