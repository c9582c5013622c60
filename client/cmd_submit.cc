// taskq submit: one task from the command line, or many from a batch file (`--batch FILE|-`),
// one task per line in the same syntax.
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <iostream>

#include "client/cli.h"
#include "client/task_array.h"
#include "fmt/format.h"
#include "nlohmann/json.hpp"

namespace taskq::cli {
namespace {

std::string CurrentDirectory() {
  char buffer[4096];
  return getcwd(buffer, sizeof(buffer)) != nullptr ? std::string(buffer) : std::string();
}

Status ReadBatch(const std::string& source, std::vector<TaskSpec>* specs) {
  std::ifstream file;
  std::istream* in = &std::cin;
  if (source != "-") {
    file.open(source);
    if (!file) return Status::Invalid(fmt::format("--batch: cannot read {}", source));
    in = &file;
  }
  const std::string cwd = CurrentDirectory();
  std::string line;
  BatchLineParser parser;
  for (size_t number = 1; std::getline(*in, line); ++number) {
    TaskSpec spec;
    bool skip = false;
    Status parsed = parser.Parse(line, cwd, &spec, &skip);
    if (!parsed.ok()) {
      return Status::Invalid(
          fmt::format("{}:{}: {}", source == "-" ? "stdin" : source, number, parsed.message()));
    }
    if (!skip) specs->push_back(std::move(spec));
  }
  return Status::Ok();
}

// One id per line, or {"id": N} by the JSON rule; `existing` (parallel to all ids, may be
// shorter) marks the tasks --unique found instead of submitting: {"id": N, "existing": true}.
// `first` is the position of ids[0] among all ids.
void PrintIds(const std::vector<uint64_t>& ids, JsonResults* json,
              const std::vector<uint8_t>& existing = {}, size_t first = 0) {
  for (size_t i = 0; i < ids.size(); ++i) {
    if (json != nullptr) {
      nlohmann::json line{{"id", ids[i]}};
      if (first + i < existing.size() && existing[first + i] != 0) line["existing"] = true;
      json->Add(std::move(line));
    } else {
      std::cout << ids[i] << "\n";
    }
  }
  std::cout.flush();
}

Status ReadLines(const std::string& source, std::vector<std::string>* lines) {
  std::ifstream file;
  std::istream* in = &std::cin;
  if (source != "-") {
    file.open(source);
    if (!file) return Status::Invalid(fmt::format("--each-line: cannot read {}", source));
    in = &file;
  }
  for (std::string line; std::getline(*in, line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    lines->push_back(std::move(line));
  }
  return Status::Ok();
}

// --label/--unique before the kind, --array and --each-line: applied to the specs read.
Status ApplySubmitOptions(const SubmitCommand& command, std::vector<TaskSpec>* specs) {
  for (const std::string& label : command.labels) {
    TASKQ_RETURN_IF_ERROR(CheckLabel(label, "--label"));
  }
  for (TaskSpec& spec : *specs) {
    spec.labels.insert(spec.labels.end(), command.labels.begin(), command.labels.end());
    if (command.hold) spec.hold = true;
    if (!command.unique.empty()) spec.unique = command.unique;
  }
  if (!command.unique.empty()) {
    TASKQ_RETURN_IF_ERROR(CheckLabel("unique=" + command.unique, "--unique"));
  }
  const bool array = !command.array.empty() || !command.each_line.empty();
  if (!array) return Status::Ok();
  if (!command.array.empty() && !command.each_line.empty()) {
    return Status::Invalid("--array and --each-line: give one of them");
  }
  if (!command.batch.empty()) {
    return Status::Invalid("--batch and --array/--each-line: give one of them");
  }
  const TaskSpec base = specs->front();
  if (!base.unique.empty()) {
    return Status::Invalid("--unique and --array/--each-line: an array's tasks cannot share a key");
  }
  specs->clear();
  if (!command.array.empty()) return ExpandArray(base, command.array, specs);
  std::vector<std::string> lines;
  TASKQ_RETURN_IF_ERROR(ReadLines(command.each_line, &lines));
  return ExpandEachLine(base, lines, specs);
}

}  // namespace

int RunSubmit(const GlobalArgs& global, SubmitCommand& command) {
  std::vector<TaskSpec> specs;
  const bool batch = !command.batch.empty();
  if (batch) {
    if (!command.args.kind.empty()) {
      return Report(Status::Invalid("submit: give either a task kind or --batch, not both"));
    }
    Status read = ReadBatch(command.batch, &specs);
    if (!read.ok()) return Report(read);
  } else {
    Status finished = FinishSpec(&command.args, CurrentDirectory());
    if (!finished.ok()) return Report(finished);
    specs.push_back(command.args.spec);
  }
  if (Status applied = ApplySubmitOptions(command, &specs); !applied.ok()) return Report(applied);
  int code = 0;
  std::unique_ptr<Client> client = ConnectOrReport(global, &code);
  if (!client) return code;
  SubmitOptions options;
  options.block = command.block;
  options.sync = command.sync;
  if (command.block && command.args.timeout_s >= 0) {
    options.block_timeout_ms = static_cast<int64_t>(command.args.timeout_s * 1000);
  }
  std::vector<uint64_t> ids;
  std::vector<uint8_t> existing;
  options.existing = &existing;
  size_t printed = 0;
  // --json prints one object for one task and an array for several, once all landed; text and
  // --jsonl print each chunk's ids as soon as it landed: what a killed client printed is what it
  // queued (but for the last chunk, if it died between landing it and printing).
  JsonResults json(global, /*is_list=*/specs.size() != 1);
  JsonResults* as_json = global.json ? &json : nullptr;
  if (!command.wait && (!global.json || global.jsonl)) {
    options.on_landed = [&](const std::vector<uint64_t>& all, size_t first_new) {
      PrintIds(std::vector<uint64_t>(all.begin() + static_cast<ptrdiff_t>(first_new), all.end()),
               as_json, existing, first_new);
      printed = all.size();
    };
  }
  Status submitted = client->Submit(specs, options, &ids);
  if (!command.wait || !submitted.ok()) {
    PrintIds(std::vector<uint64_t>(ids.begin() + static_cast<ptrdiff_t>(printed), ids.end()),
             as_json, existing, printed);
    if (as_json != nullptr) json.Finish();
    if (!submitted.ok()) {
      if (!ids.empty()) {
        // Errors are one line: say how many made it in the same line as why the rest did not.
        std::fprintf(stderr, "taskq: %zu of %zu tasks were submitted (ids above); %s\n", ids.size(),
                     specs.size(), submitted.message().c_str());
        return submitted.exit_code();
      }
      return Report(submitted);
    }
    return 0;
  }
  std::vector<TaskInfo> tasks;
  Status waited = client->Wait(ids, -1, &tasks);
  if (!waited.ok()) {
    // The tasks are in the queue even though the wait ended: say which, so a script can wait
    // for them again (the error itself is one line on stderr).
    PrintIds(ids, as_json);
    if (as_json != nullptr) json.Finish();
    return Report(waited);
  }
  bool all_succeeded = true;
  for (const TaskInfo& info : tasks) all_succeeded &= info.state == TaskState::kSucceeded;
  if (global.json) {
    PrintJson(global, tasks, /*as_array=*/specs.size() != 1 || batch);
  } else {
    for (const TaskInfo& info : tasks) PrintTaskSummary(info);
  }
  return all_succeeded ? 0 : 1;
}

}  // namespace taskq::cli
