#include "common/task_policy.h"

#include <fnmatch.h>

#include <algorithm>
#include <sstream>

#include "fmt/format.h"

namespace taskq {
namespace {

std::string Joined(const std::vector<std::string>& items) {
  std::string out;
  for (const std::string& item : items) out += (out.empty() ? "" : ", ") + item;
  return out.empty() ? "(none)" : out;
}

// Splits on '/', dropping empty and "." parts; false when a ".." is met.
bool PathParts(const std::string& path, std::vector<std::string>* parts) {
  std::stringstream in(path);
  std::string part;
  while (std::getline(in, part, '/')) {
    if (part.empty() || part == ".") continue;
    if (part == "..") return false;
    parts->push_back(part);
  }
  return true;
}

}  // namespace

bool ExecutableAllowed(const std::string& executable, const std::vector<std::string>& allow) {
  if (allow.empty()) return true;
  return std::any_of(allow.begin(), allow.end(), [&](const std::string& pattern) {
    return fnmatch(pattern.c_str(), executable.c_str(), FNM_PATHNAME | FNM_PERIOD) == 0;
  });
}

Status IoPathBeneathRoot(const std::string& path, const std::string& io_root,
                         std::string* relative) {
  relative->clear();
  if (path.empty()) return Status::Ok();
  std::vector<std::string> parts;
  if (!PathParts(path, &parts)) {
    return Status::Invalid(fmt::format(
        "--path: '{}' contains '..'; name a file beneath security.io_root {}", path, io_root));
  }
  if (path.front() == '/') {
    std::vector<std::string> root;
    PathParts(io_root, &root);
    if (parts.size() <= root.size() || !std::equal(root.begin(), root.end(), parts.begin())) {
      return Status::Invalid(fmt::format(
          "--path: '{}' is not beneath security.io_root {}; write it there (or give a path "
          "relative to it)",
          path, io_root));
    }
    parts.erase(parts.begin(), parts.begin() + static_cast<long>(root.size()));
  }
  if (parts.empty()) {
    return Status::Invalid(fmt::format("--path: '{}' names no file beneath {}", path, io_root));
  }
  for (const std::string& part : parts) *relative += (relative->empty() ? "" : "/") + part;
  return Status::Ok();
}

Status CheckTaskAllowed(const TaskSpec& spec, const Options& resolved) {
  switch (spec.kind) {
    case TaskKind::kCpu:
      if (spec.cpu.count > resolved.max_cpu_count) {
        return Status::Invalid(fmt::format(
            "--count: {} is above security.max_cpu_count {} of this queue; split the work",
            spec.cpu.count, resolved.max_cpu_count));
      }
      return Status::Ok();
    case TaskKind::kIo: {
      if (spec.io.bytes > resolved.max_io_bytes) {
        return Status::Invalid(
            fmt::format("--bytes: {} is above security.max_io_bytes {} of this queue",
                        spec.io.bytes, resolved.max_io_bytes));
      }
      std::string relative;
      return IoPathBeneathRoot(spec.io.path, resolved.io_root, &relative);
    }
    case TaskKind::kExec: {
      if (!resolved.exec_enabled) {
        return Status::Invalid(
            "exec: this queue does not run commands (security.exec_enabled: false); submit cpu "
            "or io tasks, or ask its owner");
      }
      const std::string& program = spec.exec.argv.empty() ? std::string() : spec.exec.argv[0];
      if (!resolved.exec_allow.empty() && (program.empty() || program.front() != '/' ||
                                           !ExecutableAllowed(program, resolved.exec_allow))) {
        return Status::Invalid(fmt::format(
            "exec: '{}' is not allowed by security.exec_allow ({}); give the full path of an "
            "allowed program",
            program, Joined(resolved.exec_allow)));
      }
      for (const std::string& kv : spec.exec.env) {
        const std::string name = kv.substr(0, kv.find('='));
        // `submit --array`/`--each-line` set these two: data for the command, not a way to
        // change how a program loads or runs (what env_allow keeps out).
        if (name == "TASKQ_ARRAY_INDEX" || name == "TASKQ_ARRAY_ITEM") continue;
        if (std::find(resolved.env_allow.begin(), resolved.env_allow.end(), name) ==
            resolved.env_allow.end()) {
          return Status::Invalid(fmt::format(
              "--env: {} is not in security.env_allow ({}); drop it or ask the queue's owner", name,
              Joined(resolved.env_allow)));
        }
      }
      return Status::Ok();
    }
  }
  return Status::Invalid("task kind: must be cpu, io or exec");
}

}  // namespace taskq
