#include "client/submit_args.h"

#include <cmath>

#include "fmt/format.h"

namespace taskq {

void AddKindSubcommands(CLI::App* submit, SubmitArgs* args) {
  auto common = [args](CLI::App* kind) {
    kind->add_option("--timeout", args->timeout_s,
                     "run-time limit in seconds; the task is killed and `timed_out` after it "
                     "(with --block, also how long to wait for space)")
        ->check(CLI::Range(0.0, 1e9));
    kind->add_option("--retries", args->retries,
                     "re-runs allowed when the task's process dies (it is `lost` after them)")
        ->check(CLI::Range(0, 100));
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
  return Status::Ok();
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
  // The options write into args_, and CLI11 leaves a variable alone when its option is absent:
  // start each line from the defaults (the subcommands keep pointing at the same args_).
  args_ = SubmitArgs{};
  std::vector<std::string> reversed(words.rbegin(), words.rend());
  try {
    app_.parse(reversed);  // parse() clears the previous line's results first
  } catch (const CLI::ParseError& e) {
    return Status::Invalid(e.what());
  }
  TASKQ_RETURN_IF_ERROR(FinishSpec(&args_, default_cwd));
  *spec = args_.spec;
  return Status::Ok();
}

Status ParseBatchLine(const std::string& line, const std::string& default_cwd, TaskSpec* spec,
                      bool* skip) {
  BatchLineParser parser;
  return parser.Parse(line, default_cwd, spec, skip);
}

}  // namespace taskq
