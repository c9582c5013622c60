// What a Slurm command the daemon ran (sbatch, squeue, scancel) left behind: its stdout and
// stderr go to two files in the daemon's own 0700 state directory, read once it has exited.
#pragma once

#include <string>
#include <string_view>

namespace taskq {

// The whole file at `path` (empty when it is missing).
std::string ReadSmallFile(const std::string& path);
// The same, and the file is then removed.
std::string TakeHelperOutput(const std::string& path);

// The first line of `text`, cut to `max_chars` with "..." so that a log line stays one line.
std::string FirstLineOf(std::string_view text, size_t max_chars = 120);

}  // namespace taskq
