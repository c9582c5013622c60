// Loading Options from YAML (the schema is config/taskq.yaml, the shipped example) and writing
// them back. Every error is a Status::Invalid with one line
//   <source>:<line>:<column>: <key path>: <what is wrong>, got <value>; <how to fix>
// No yaml-cpp exception escapes these functions.
#pragma once

#include <string>

#include "common/options.h"
#include "common/status.h"

namespace taskq {

// Loads YAML text on top of *options (start from Options{} for built-in defaults): keys present
// replace fields, absent keys leave them. An empty document changes nothing. On error *options is
// unchanged. `source_name` starts every message (the file name, or e.g. "--config-text").
Status LoadOptionsFromString(const std::string& yaml, const std::string& source_name,
                             Options* options);
// As above for a file; an unreadable file is an error naming the path and the reason.
Status LoadOptionsFromFile(const std::string& path, Options* options);
// The configuration as YAML in the same schema, every key written; loading it gives `options`.
std::string OptionsToYaml(const Options& options);
// [A-Za-z0-9_.-]{1,64}, not starting with '.'.
Status ValidateQueueName(const std::string& name);

}  // namespace taskq
