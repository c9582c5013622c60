// The Python side of `--preset tutorial --with-python`: finding bench/tutorial and running a
// script there, timed like the shell's `time`.
#pragma once

#include <string>
#include <vector>

#include "common/status.h"

namespace taskq::lab {

struct PythonRun {
  double real_s = 0, user_s = 0, sys_s = 0;  // measured from outside (wait4)
  double elapsed_s = 0;                      // the script's own time.time() around the work
  double pool_create_s = 0;                  // process_vs_pool.py --mode pool
};

// The directory holding the scripts ($TASKQ_BENCH_DIR, the source tree, or share/taskq), or "".
std::string FindPythonScripts();
Status RunPython(const std::string& python, const std::string& script,
                 const std::vector<std::string>& args, PythonRun* run);

}  // namespace taskq::lab
