// Reading single configuration values out of YAML nodes, for the loader in config/load.cc. Every
// failure is a Status::Invalid with one line of the form
//   <source>:<line>:<column>: <key path>: <what is wrong>, got <value>; <how to fix>
// Also the text forms of durations ("500ms", "10s", "1.5h") and sizes ("64KiB", "1GiB"), which
// command-line flags can share.
#pragma once

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace taskq {

// One YAML node being read as a configuration value, with what an error message needs.
struct ConfigValue {
  YAML::Node node;
  std::string_view source;  // file name or label; must outlive this value
  std::string path;         // "workers", "retention.age", "security.exec_allow[2]"; "" = document
  YAML::Mark mark;          // where messages point: the value, or its key when the value is empty

  static ConfigValue Document(const YAML::Node& document, std::string_view source);
  ConfigValue Child(const YAML::Node& key, const YAML::Node& value) const;
  ConfigValue Item(const YAML::Node& item, size_t index) const;
};

// "<source>:<line>:<column>: <message>", line and column 1-based.
Status ErrorAt(std::string_view source, const YAML::Mark& mark, std::string_view message);
// "<source>:<line>:<column>: <path>: <problem>, got <value>; <fix>".
Status ValueError(const ConfigValue& value, std::string_view problem, std::string_view fix);
// The path as messages show it: "top level" for the document itself.
std::string ShownPath(const ConfigValue& value);
// A value as messages show it after "got": bare when unambiguous, else quoted and escaped.
std::string ShownText(std::string_view text);

// A constraint on a text value: `check` accepts or refuses it; the rest goes into the message.
struct TextRule {
  bool (*check)(std::string_view text);
  const char* problem;  // "must be an absolute path"
  const char* fix;      // "start it with '/'"
};

Status ReadString(const ConfigValue& value, const TextRule& rule, std::string* out);
// A missing value (`key:` alone) reads as an empty list.
Status ReadStringList(const ConfigValue& value, const TextRule& rule,
                      std::vector<std::string>* out);
Status ReadBool(const ConfigValue& value, bool* out);  // true | false
Status ReadChoice(const ConfigValue& value, std::initializer_list<const char*> choices,
                  std::string* out);
// `note` (may be empty) explains special values, e.g. "0 = unbounded".
Status ReadUint64(const ConfigValue& value, uint64_t min, uint64_t max, std::string_view note,
                  uint64_t* out);
Status ReadDurationMs(const ConfigValue& value, uint64_t max_ms, uint64_t* out_ms);
Status ReadSizeBytes(const ConfigValue& value, uint64_t min, uint64_t max, uint64_t* out);
// Octal digits, quoted ("0660") or not (0660, 660); only the `allowed` modes are accepted.
Status ReadFileMode(const ConfigValue& value, std::initializer_list<uint32_t> allowed,
                    uint32_t* out);

template <typename T>
Status ReadUint(const ConfigValue& value, uint64_t min, uint64_t max, std::string_view note,
                T* out) {
  uint64_t wide = 0;
  max = std::min<uint64_t>(max, std::numeric_limits<T>::max());
  TASKQ_RETURN_IF_ERROR(ReadUint64(value, min, max, note, &wide));
  *out = static_cast<T>(wide);
  return Status::Ok();
}

// A number with an optional unit ms, s, m, h, d; a bare number is seconds ("2.5"). False when
// malformed, negative, finer than a millisecond, or past 2^64 ms.
bool ParseDurationMs(std::string_view text, uint64_t* ms);
// The largest unit that is exact: "0s", "500ms", "90s", "10m", "1d".
std::string FormatDurationMs(uint64_t ms);
// A number with an optional unit B, KiB, MiB, GiB (K, KB, M, MB, G, GB are powers of 1024 too);
// a bare number is bytes. False when malformed, not a whole number of bytes, or past 2^64.
bool ParseSizeBytes(std::string_view text, uint64_t* bytes);
// The largest unit that is exact: "0B", "1000B", "64KiB", "1GiB".
std::string FormatSizeBytes(uint64_t bytes);
std::string FormatFileMode(uint32_t mode);  // "0600"

}  // namespace taskq
