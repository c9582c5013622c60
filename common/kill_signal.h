// The signals `taskq kill --signal` may send a running task: those that ask a program to stop
// (or that it may catch to act on). SIGSTOP/SIGCONT are pause and resume, not kill; the rest
// (SIGSEGV, SIGCHLD, ...) would lie about what happened.
#pragma once

#include <string>
#include <string_view>

#include "common/status.h"

namespace taskq {

inline constexpr const char* kKillSignalNames = "TERM, INT, HUP, QUIT, KILL, USR1, USR2 or ALRM";

// "TERM", "SIGTERM", "term" or "15" → SIGTERM; anything else is refused with one line naming
// the choices.
Status ParseKillSignal(std::string_view text, int* signal);
// True for a signal ParseKillSignal accepts.
bool IsKillSignal(int signal);

}  // namespace taskq
