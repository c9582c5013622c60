#include "common/kill_signal.h"

#include <signal.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <iterator>

#include "common/text.h"
#include "fmt/format.h"

namespace taskq {
namespace {

struct NamedSignal {
  const char* name;
  int signal;
};

constexpr NamedSignal kKillSignals[] = {
    {"TERM", SIGTERM}, {"INT", SIGINT},   {"HUP", SIGHUP},   {"QUIT", SIGQUIT},
    {"KILL", SIGKILL}, {"USR1", SIGUSR1}, {"USR2", SIGUSR2}, {"ALRM", SIGALRM},
};

}  // namespace

bool IsKillSignal(int signal) {
  return std::any_of(std::begin(kKillSignals), std::end(kKillSignals),
                     [signal](const NamedSignal& s) { return s.signal == signal; });
}

Status ParseKillSignal(std::string_view text, int* signal) {
  int number = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), number);
  if (!text.empty() && error == std::errc() && end == text.data() + text.size()) {
    if (IsKillSignal(number)) {
      *signal = number;
      return Status::Ok();
    }
  } else {
    std::string name(text);
    std::transform(name.begin(), name.end(), name.begin(),
                   [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
    if (name.rfind("SIG", 0) == 0) name.erase(0, 3);
    for (const NamedSignal& s : kKillSignals) {
      if (name == s.name) {
        *signal = s.signal;
        return Status::Ok();
      }
    }
  }
  return Status::Invalid(fmt::format("--signal: '{}' is not a signal kill sends; use {}",
                                     EscapeControl(text), kKillSignalNames));
}

}  // namespace taskq
