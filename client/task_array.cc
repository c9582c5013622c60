#include "client/task_array.h"

#include <charconv>

#include "fmt/format.h"

namespace taskq {
namespace {

// More tasks than the largest queue holds is a typo, not an array.
constexpr uint64_t kMaxArrayTasks = kMaxCapacity;

bool ParseNumber(std::string_view text, uint64_t* out) {
  if (text.empty()) return false;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), *out);
  return ec == std::errc() && end == text.data() + text.size();
}

void ReplaceAll(std::string* text, const std::string& value) {
  for (size_t at = text->find("{}"); at != std::string::npos; at = text->find("{}", at)) {
    text->replace(at, 2, value);
    at += value.size();
  }
}

TaskSpec OneOf(const TaskSpec& base, uint64_t index, const std::string& value, bool is_line) {
  TaskSpec spec = base;
  spec.array_index = index;
  spec.array_id = 0;  // Segment::Submit names the array by its first task
  if (spec.kind == TaskKind::kExec) {
    for (std::string& arg : spec.exec.argv) ReplaceAll(&arg, value);
    spec.exec.env.push_back(fmt::format("TASKQ_ARRAY_INDEX={}", index));
    if (is_line) spec.exec.env.push_back("TASKQ_ARRAY_ITEM=" + value);
  } else if (spec.kind == TaskKind::kIo) {
    ReplaceAll(&spec.io.path, value);
  }
  return spec;
}

}  // namespace

Status ParseArrayRange(const std::string& text, uint64_t* first, uint64_t* last, uint64_t* step) {
  const Status bad = Status::Invalid(
      fmt::format("--array: expected FIRST-LAST[:STEP] such as 1-1000 or 0-99:10, got '{}'", text));
  std::string_view rest(text);
  *step = 1;
  if (const size_t colon = rest.find(':'); colon != std::string_view::npos) {
    if (!ParseNumber(rest.substr(colon + 1), step) || *step == 0) return bad;
    rest = rest.substr(0, colon);
  }
  if (const size_t dash = rest.find('-'); dash != std::string_view::npos) {
    if (!ParseNumber(rest.substr(0, dash), first) || !ParseNumber(rest.substr(dash + 1), last)) {
      return bad;
    }
  } else {
    if (!ParseNumber(rest, first)) return bad;
    *last = *first;
  }
  if (*first > *last) return bad;
  if ((*last - *first) / *step >= kMaxArrayTasks) {
    return Status::Invalid(
        fmt::format("--array: '{}' is more than {} tasks; split it", text, kMaxArrayTasks));
  }
  return Status::Ok();
}

Status ExpandArray(const TaskSpec& base, const std::string& range, std::vector<TaskSpec>* out) {
  uint64_t first = 0, last = 0, step = 1;
  TASKQ_RETURN_IF_ERROR(ParseArrayRange(range, &first, &last, &step));
  out->reserve(out->size() + (last - first) / step + 1);
  for (uint64_t i = first;; i += step) {
    out->push_back(OneOf(base, i, std::to_string(i), /*is_line=*/false));
    if (last - i < step) break;  // the next index would pass `last` (or wrap)
  }
  return Status::Ok();
}

Status ExpandEachLine(const TaskSpec& base, const std::vector<std::string>& lines,
                      std::vector<TaskSpec>* out) {
  if (lines.size() > kMaxArrayTasks) {
    return Status::Invalid(
        fmt::format("--each-line: more than {} lines; split the file", kMaxArrayTasks));
  }
  for (size_t i = 0; i < lines.size(); ++i) {
    if (lines[i].empty()) continue;
    out->push_back(OneOf(base, i, lines[i], /*is_line=*/true));
  }
  if (out->empty()) return Status::Invalid("--each-line: the file has no line to run");
  return Status::Ok();
}

}  // namespace taskq
