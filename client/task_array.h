// `submit --array FIRST-LAST[:STEP]` and `submit --each-line FILE` (issue 16): one task spec
// becomes many, one per index or line, submitted as one batch. In each, `{}` in the exec command
// (or the io --path) becomes the index or the line; an exec task also gets TASKQ_ARRAY_INDEX
// (and, per line, TASKQ_ARRAY_ITEM) in its environment. Every task records the array's first id
// (array_id) and its index, so `list`/`wait --array ID` select the whole array.
#pragma once

#include <string>
#include <vector>

#include "common/status.h"
#include "common/task.h"

namespace taskq {

// "1-1000", "0-99:10" or "7" -> first, last, step. Fails naming --array and the form.
Status ParseArrayRange(const std::string& text, uint64_t* first, uint64_t* last, uint64_t* step);

// One spec per index of `range`.
Status ExpandArray(const TaskSpec& base, const std::string& range, std::vector<TaskSpec>* out);

// One spec per line of `lines` (empty lines are skipped; their numbers are not).
Status ExpandEachLine(const TaskSpec& base, const std::vector<std::string>& lines,
                      std::vector<TaskSpec>* out);

}  // namespace taskq
