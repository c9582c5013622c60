// Running the Python re-creations of the tutorial (bench/tutorial/*.py) and timing them from
// outside as the tutorial's shell `time` did: real from the clock, user and sys from wait4 (the
// script and every child it waited for). The script's own JSON line is kept too.
#include "lab/python.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "fmt/format.h"
#include "nlohmann/json.hpp"

extern char** environ;

namespace taskq::lab {

std::string FindPythonScripts() {
  std::vector<std::string> candidates;
  if (const char* env = std::getenv("TASKQ_BENCH_DIR")) candidates.push_back(env);
  std::error_code ec;
  auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    auto dir = self.parent_path();
    candidates.push_back((dir / "../../bench/tutorial").string());  // build tree in the source
    candidates.push_back((dir / "../share/taskq/bench/tutorial").string());  // installed
  }
#ifdef TASKQ_BENCH_SOURCE_DIR
  candidates.push_back(TASKQ_BENCH_SOURCE_DIR);
#endif
  for (const std::string& c : candidates) {
    if (std::filesystem::exists(c + "/list_append.py", ec) &&
        std::filesystem::exists(c + "/process_vs_pool.py", ec)) {
      return std::filesystem::weakly_canonical(c, ec).string();
    }
  }
  return "";
}

Status RunPython(const std::string& python, const std::string& script,
                 const std::vector<std::string>& args, PythonRun* run) {
  std::vector<std::string> words = {python, script};
  words.insert(words.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& w : words) argv.push_back(w.data());
  argv.push_back(nullptr);
  int out[2];
  if (pipe2(out, O_CLOEXEC) != 0) return Status::Failed("pipe failed");
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, out[1], 1);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  pid_t pid = 0;
  const auto t0 = std::chrono::steady_clock::now();
  int rc = posix_spawnp(&pid, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  close(out[1]);
  if (rc != 0) {
    close(out[0]);
    return Status::Unavailable(fmt::format("cannot run {}: {}", python, std::strerror(rc)));
  }
  std::string text;
  char buffer[4096];
  ssize_t n;
  while ((n = read(out[0], buffer, sizeof(buffer))) != 0) {
    if (n > 0)
      text.append(buffer, static_cast<size_t>(n));
    else if (errno != EINTR)
      break;
  }
  close(out[0]);
  int status = 0;
  rusage ru{};
  while (wait4(pid, &status, 0, &ru) < 0 && errno == EINTR) {
  }
  run->real_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  run->user_s = ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6;
  run->sys_s = ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return Status::Failed(fmt::format("{} {} failed (status {})", python, script, status));
  }
  size_t brace = text.rfind('{');
  nlohmann::json j =
      nlohmann::json::parse(brace == std::string::npos ? "" : text.substr(brace), nullptr, false);
  if (!j.is_object()) return Status::Failed(script + " printed no JSON result");
  run->elapsed_s = j.value("elapsed_s", 0.0);
  run->pool_create_s = j.value("pool_create_s", 0.0);
  return Status::Ok();
}

}  // namespace taskq::lab
