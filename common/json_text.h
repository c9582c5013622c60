// JSON as text, the one way taskq writes it (files, frames, replies, CLI output): a string that
// is not valid UTF-8 (a name cut at a byte limit, a peer's or a task's bytes) is written with
// U+FFFD in place of the bad bytes instead of making nlohmann::json throw.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace taskq {

inline std::string JsonText(const nlohmann::json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace taskq
