#include "client/submit_args.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <limits>

#include "common/clock.h"
#include "fmt/format.h"

namespace taskq {

void AddKindSubcommands(CLI::App* submit, SubmitArgs* args) {
  auto common = [args](CLI::App* kind) {
    kind->add_option("--timeout", args->timeout_s,
                     "run-time limit in seconds; the task is killed and `timed_out` after it "
                     "(with --block, also how long to wait for space)")
        ->check(CLI::Range(0.0, 1e9));
    kind->add_option("--retries", args->retries,
                     "re-runs allowed after an end --retry-on names (default: its process died)")
        ->check(CLI::Range(0, 100));
    kind->add_option("--retry-on", args->retry_on,
                     "which ends are retried: lost, failed, timed_out (comma-separated; "
                     "default lost)");
    kind->add_option("--retry-delay", args->retry_delay,
                     "wait before each retry: 5s, or 1s..1m to double from 1s up to 1m");
    kind->add_option("--group", args->group, "run in this group (default: default)");
    kind->add_option("--priority", args->priority, "0..9, higher runs first (default 5)")
        ->check(CLI::Range(0, 9));
    kind->add_option("--after", args->after,
                     "run only after these tasks succeeded (ID[,ID...]); fails if one did not")
        ->delimiter(',')
        ->check(CLI::Range(uint64_t{1}, uint64_t{1} << 62));
    kind->add_option("--delay", args->delay, "start no sooner than this from now: 30s, 5m, 1h");
    kind->add_option("--at", args->at,
                     "start no sooner than: HH:MM[:SS], YYYY-MM-DDTHH:MM[:SS] (local) or @EPOCH");
    kind->add_flag("--hold", args->spec.hold,
                   "submit it held: it runs only after `taskq release ID`");
    kind->add_option("--label", args->spec.labels,
                     "a label KEY=VALUE (repeatable) for filters: list/wait/kill/cancel --label")
        ->allow_extra_args(false);
    kind->add_option("--unique", args->spec.unique,
                     "submit only if no queued or running task has KEY; else print its id");
    // Options the kind does not know (--wait, --block, --json, ...) belong to `submit` and to
    // the global flags: they may follow the kind.
    kind->fallthrough();
    kind->callback([args, kind] { args->kind = kind->get_name(); });
  };
  CLI::App* cpu =
      submit->add_subcommand("cpu", "the tutorial's list_append: append N random numbers");
  cpu->add_option("--count", args->spec.cpu.count, "numbers to append (default 1000000)")
      ->check(CLI::Range(uint64_t{0}, uint64_t{1} << 62));
  cpu->add_option("--seed", args->spec.cpu.seed, "random seed (default 0)");
  common(cpu);

  CLI::App* io = submit->add_subcommand("io", "the tutorial's test(): create, write, close a file");
  io->add_option("--bytes", args->spec.io.bytes, "bytes to write (default 64)")
      ->check(CLI::Range(uint64_t{0}, uint64_t{1} << 50));
  io->add_option("--path", args->spec.io.path, "file to write (default <state_dir>/io/<id>.dat)");
  // After `io`, --block is the write size; the queue-blocking flag then goes before the kind:
  // `taskq submit --block io --bytes 64`.
  io->add_option("--block,--block-size", args->spec.io.block,
                 "write() size in bytes (default 4096)")
      ->check(CLI::Range(uint64_t{1}, uint64_t{1} << 30));
  io->add_flag("--fsync", args->spec.io.fsync, "fsync before close");
  common(io);

  CLI::App* exec = submit->add_subcommand("exec", "run a command: exec [options] -- CMD ARGS...");
  exec->add_option("--cwd", args->cwd, "working directory (default: where taskq runs)");
  exec->add_option("--env", args->env, "extra environment variable K=V (repeatable)")
      ->allow_extra_args(false);
  exec->add_option("command", args->command, "the command and its arguments, after --");
  common(exec);
  submit->require_subcommand(0, 1);
}

namespace {

Status FinishScheduling(const SubmitArgs& args, TaskSpec* spec) {
  if (!args.group.empty()) {
    if (!IsValidGroupName(args.group)) {
      return Status::Invalid(fmt::format(
          "--group: '{}' is not a group name (1 to 31 of A-Z a-z 0-9 _ . -); see taskq group list",
          args.group));
    }
    spec->group = args.group;
  }
  if (args.priority >= 0) spec->priority = static_cast<uint32_t>(args.priority);
  if (args.after.size() > kMaxAfter) {
    return Status::Invalid(
        fmt::format("--after: at most {} task ids, got {}; chain through an intermediate task",
                    kMaxAfter, args.after.size()));
  }
  spec->after = args.after;
  if (!args.delay.empty() && !args.at.empty()) {
    return Status::Invalid("--delay and --at: give one of them, not both");
  }
  const uint64_t now = NowUs();
  if (!args.delay.empty()) {
    uint64_t delay_us = 0;
    if (!ParseDurationUs(args.delay, &delay_us)) {
      return Status::Invalid(fmt::format(
          "--delay: expected a duration like 30s, 500ms, 5m, 2h or 1d, got '{}'", args.delay));
    }
    spec->not_before_us = delay_us == 0 ? 0 : now + delay_us;
  }
  if (!args.at.empty()) {
    uint64_t at_us = 0;
    if (!ParseAtTime(args.at, now, &at_us)) {
      return Status::Invalid(fmt::format(
          "--at: expected HH:MM[:SS], YYYY-MM-DDTHH:MM[:SS] (local time) or @EPOCH_SECONDS, got "
          "'{}'",
          args.at));
    }
    spec->not_before_us = at_us;
  }
  return Status::Ok();
}

}  // namespace

bool ParseDurationUs(const std::string& text, uint64_t* us) {
  size_t used = 0;
  double value = 0;
  try {
    value = std::stod(text, &used);
  } catch (const std::exception&) {
    return false;
  }
  if (!(value >= 0) || text.empty() || !std::isdigit(static_cast<unsigned char>(text[0]))) {
    return false;
  }
  const std::string unit = text.substr(used);
  double scale = 0;
  if (unit.empty() || unit == "s") {
    scale = 1e6;
  } else if (unit == "ms") {
    scale = 1e3;
  } else if (unit == "m") {
    scale = 60e6;
  } else if (unit == "h") {
    scale = 3600e6;
  } else if (unit == "d") {
    scale = 86400e6;
  } else {
    return false;
  }
  const double total = value * scale;
  if (total > 10.0 * 365 * 86400e6) return false;  // ten years: anything longer is a typo
  *us = static_cast<uint64_t>(std::llround(total));
  return true;
}

bool ParseAtTime(const std::string& text, uint64_t now_us, uint64_t* epoch_us) {
  if (text.starts_with("@")) {
    uint64_t seconds = 0;
    const std::string digits = text.substr(1);
    if (digits.empty() || digits.size() > 12 ||
        digits.find_first_not_of("0123456789") != std::string::npos) {
      return false;
    }
    seconds = std::stoull(digits);
    *epoch_us = seconds * 1000000;
    return true;
  }
  std::tm tm{};
  const time_t now_s = static_cast<time_t>(now_us / 1000000);
  localtime_r(&now_s, &tm);
  int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
  char sep = 0;
  char tail = 0;
  if (std::sscanf(text.c_str(), "%4d-%2d-%2d%c%2d:%2d:%2d%c", &year, &month, &day, &sep, &hour,
                  &minute, &second, &tail) == 7 ||
      (second = 0, std::sscanf(text.c_str(), "%4d-%2d-%2d%c%2d:%2d%c", &year, &month, &day, &sep,
                               &hour, &minute, &tail) == 6)) {
    if (sep != 'T' && sep != ' ') return false;
    tm.tm_year = year - 1900;
    tm.tm_mon = month - 1;
    tm.tm_mday = day;
  } else if (std::sscanf(text.c_str(), "%2d:%2d:%2d%c", &hour, &minute, &second, &tail) == 3 ||
             (second = 0, std::sscanf(text.c_str(), "%2d:%2d%c", &hour, &minute, &tail) == 2)) {
    // Today; tomorrow when that time has passed.
  } else {
    return false;
  }
  if (month < 0 || month > 12 || day < 0 || day > 31 || hour < 0 || hour > 23 || minute < 0 ||
      minute > 59 || second < 0 || second > 60) {
    return false;
  }
  const bool time_only = year == 0;
  tm.tm_hour = hour;
  tm.tm_min = minute;
  tm.tm_sec = second;
  tm.tm_isdst = -1;
  time_t when = mktime(&tm);
  if (when == static_cast<time_t>(-1)) return false;
  if (time_only && static_cast<uint64_t>(when) * 1000000 < now_us) when += 86400;
  *epoch_us = when < 0 ? 0 : static_cast<uint64_t>(when) * 1000000;
  return true;
}

Status ParseRetryDelay(const std::string& text, uint32_t* first_ms, uint32_t* max_ms) {
  const Status bad = Status::Invalid(fmt::format(
      "--retry-delay: expected a duration (5s) or FIRST..MAX (1s..1m, doubling), at most 49 days, "
      "got '{}'",
      text));
  const size_t dots = text.find("..");
  uint64_t first_us = 0, max_us = 0;
  if (!ParseDurationUs(text.substr(0, dots), &first_us)) return bad;
  if (dots != std::string::npos && !ParseDurationUs(text.substr(dots + 2), &max_us)) return bad;
  constexpr uint64_t kLimitMs = std::numeric_limits<uint32_t>::max();
  if (first_us / 1000 > kLimitMs || max_us / 1000 > kLimitMs) return bad;
  if (dots != std::string::npos && max_us < first_us) {
    return Status::Invalid("--retry-delay: in FIRST..MAX, MAX must not be below FIRST");
  }
  *first_ms = static_cast<uint32_t>(first_us / 1000);
  *max_ms = static_cast<uint32_t>(max_us / 1000);
  return Status::Ok();
}

Status FinishSpec(SubmitArgs* args, const std::string& default_cwd) {
  TaskSpec& spec = args->spec;
  if (args->kind == "cpu") {
    spec.kind = TaskKind::kCpu;
  } else if (args->kind == "io") {
    spec.kind = TaskKind::kIo;
  } else if (args->kind == "exec") {
    spec.kind = TaskKind::kExec;
    if (args->command.empty()) {
      return Status::Invalid("exec: no command given; put it after --, e.g. exec -- /bin/true");
    }
    spec.exec.argv = args->command;
    spec.exec.cwd = args->cwd.empty() ? default_cwd : args->cwd;
    for (const auto& kv : args->env) {
      auto eq = kv.find('=');
      if (eq == std::string::npos || eq == 0) {
        return Status::Invalid(fmt::format("--env: expected NAME=VALUE, got '{}'", kv));
      }
    }
    spec.exec.env = args->env;
  } else {
    return Status::Invalid("submit: name a task kind: cpu, io or exec (see taskq submit --help)");
  }
  if (args->timeout_s >= 0) {
    spec.timeout_ms = static_cast<uint64_t>(std::llround(args->timeout_s * 1000.0));
    if (*spec.timeout_ms == 0 && args->timeout_s > 0) spec.timeout_ms = 1;
  }
  if (args->retries >= 0) spec.retries = static_cast<uint32_t>(args->retries);
  if (!args->retry_on.empty()) TASKQ_RETURN_IF_ERROR(ParseRetryOn(args->retry_on, &spec.retry_on));
  if (!args->retry_delay.empty()) {
    TASKQ_RETURN_IF_ERROR(
        ParseRetryDelay(args->retry_delay, &spec.retry_delay_ms, &spec.retry_delay_max_ms));
  }
  for (const std::string& label : spec.labels) TASKQ_RETURN_IF_ERROR(CheckLabel(label, "--label"));
  if (!spec.unique.empty()) TASKQ_RETURN_IF_ERROR(CheckLabel("unique=" + spec.unique, "--unique"));
  return FinishScheduling(*args, &spec);
}

Status SplitWords(const std::string& line, std::vector<std::string>* words) {
  words->clear();
  std::string word;
  bool in_word = false;
  char quote = 0;
  for (size_t i = 0; i < line.size(); ++i) {
    char c = line[i];
    if (quote != 0) {
      if (c == quote) {
        quote = 0;
      } else if (c == '\\' && quote == '"' && i + 1 < line.size()) {
        word.push_back(line[++i]);
      } else {
        word.push_back(c);
      }
    } else if (c == '\'' || c == '"') {
      quote = c;
      in_word = true;
    } else if (c == '\\' && i + 1 < line.size()) {
      word.push_back(line[++i]);
      in_word = true;
    } else if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
      if (in_word) words->push_back(std::move(word));
      word.clear();
      in_word = false;
    } else {
      word.push_back(c);
      in_word = true;
    }
  }
  if (quote != 0) return Status::Invalid(fmt::format("unterminated {} quote", quote));
  if (in_word) words->push_back(std::move(word));
  return Status::Ok();
}

BatchLineParser::BatchLineParser() {
  AddKindSubcommands(&app_, &args_);
  app_.require_subcommand(1, 1);
}

Status BatchLineParser::Parse(const std::string& line, const std::string& default_cwd,
                              TaskSpec* spec, bool* skip) {
  std::vector<std::string> words;
  TASKQ_RETURN_IF_ERROR(SplitWords(line, &words));
  *skip = words.empty() || words[0].starts_with("#");
  if (*skip) return Status::Ok();
  Status simple;
  if (ParseSimple(words, default_cwd, spec, &simple)) return simple;
  return ParseWithGrammar(std::move(words), default_cwd, spec);
}

namespace {

// A decimal number as CLI11 would take it for a uint64_t option in [0, max]; false for anything
// else (signs, spaces, hex, a leading 0 that CLI11 reads as octal, 20 digits), which the grammar
// then takes or reports in its own words.
bool PlainNumber(const std::string& text, uint64_t max, uint64_t* value) {
  if (text.empty() || text.size() > 19 || (text.size() > 1 && text[0] == '0')) return false;
  uint64_t n = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
    n = n * 10 + static_cast<uint64_t>(c - '0');
  }
  if (n > max) return false;
  *value = n;
  return true;
}

}  // namespace

bool BatchLineParser::ParseSimple(const std::vector<std::string>& words,
                                  const std::string& default_cwd, TaskSpec* spec, Status* result) {
  SubmitArgs args;
  if (words[0] == "exec") {
    if (words.size() < 3 || words[1] != "--") return false;
    args.kind = "exec";
    args.command.assign(words.begin() + 2, words.end());
  } else if (words[0] == "cpu") {
    if (words.size() % 2 != 1) return false;
    bool count_given = false, seed_given = false;
    for (size_t i = 1; i < words.size(); i += 2) {
      // Each option once: CLI11 refuses a repeat, and that error is its to word.
      if (words[i] == "--count" && !count_given) {
        count_given = true;
        if (!PlainNumber(words[i + 1], uint64_t{1} << 62, &args.spec.cpu.count)) return false;
      } else if (words[i] == "--seed" && !seed_given) {
        seed_given = true;
        if (!PlainNumber(words[i + 1], UINT64_MAX, &args.spec.cpu.seed)) return false;
      } else {
        return false;
      }
    }
    args.kind = "cpu";
  } else {
    return false;
  }
  *result = FinishSpec(&args, default_cwd);
  if (result->ok()) *spec = std::move(args.spec);
  return true;
}

Status BatchLineParser::ParseWithGrammar(std::vector<std::string> words,
                                         const std::string& default_cwd, TaskSpec* spec) {
  // The options write into args_, and CLI11 leaves a variable alone when its option is absent:
  // start each line from the defaults (the subcommands keep pointing at the same args_).
  args_ = SubmitArgs{};
  const bool had_dash = std::find(words.begin(), words.end(), "--") != words.end();
  std::vector<std::string> command = TakeCommandAfterDoubleDash(&words);
  std::vector<std::string> reversed(words.rbegin(), words.rend());
  try {
    app_.parse(reversed);  // parse() clears the previous line's results first
  } catch (const CLI::ParseError& e) {
    return Status::Invalid(e.what());
  }
  if (had_dash && args_.kind != "exec") {
    return Status::Invalid("only exec takes a command after --");
  }
  args_.command.insert(args_.command.end(), command.begin(), command.end());
  TASKQ_RETURN_IF_ERROR(FinishSpec(&args_, default_cwd));
  *spec = args_.spec;
  return Status::Ok();
}

std::vector<std::string> TakeCommandAfterDoubleDash(std::vector<std::string>* words) {
  auto dash = std::find(words->begin(), words->end(), "--");
  if (dash == words->end()) return {};
  std::vector<std::string> command(dash + 1, words->end());
  words->erase(dash, words->end());
  return command;
}

Status ParseBatchLine(const std::string& line, const std::string& default_cwd, TaskSpec* spec,
                      bool* skip) {
  BatchLineParser parser;
  return parser.Parse(line, default_cwd, spec, skip);
}

}  // namespace taskq
