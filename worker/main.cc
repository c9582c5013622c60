// taskq-worker: the program a Slurm pilot job runs (slurm.mode: pilot, docs/SCALE-OUT.md). It
// reads where taskqd listens, its pilot number and its secret from the job's environment
// (TASKQ_PILOT_ADDRESS, TASKQ_PILOT_ID, TASKQ_PILOT_SECRET, which taskqd handed to sbatch
// --export-file), removes them from its environment, and serves leases until taskqd tells it to
// stop (worker/pilot_client.h).
// Exit codes: 0 stopped by taskqd (idle, shutdown), 2 usage or missing environment, 3 no
// connection to taskqd or lost it, 128+N killed by signal N (scancel, walltime).
#include <signal.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include "worker/pilot_client.h"

int main(int argc, char** argv) {
  CLI::App app{"taskq-worker: a Slurm pilot that runs tasks leased by taskqd", "taskq-worker"};
  app.set_version_flag("--version", "taskq-worker " TASKQ_VERSION);
  taskq::PilotSettings settings;
  app.add_option("--idle-timeout-ms", settings.idle_timeout_ms,
                 "ask to stop after this long without a task");
  CLI11_PARSE(app, argc, argv);

  const char* address = std::getenv("TASKQ_PILOT_ADDRESS");
  const char* number = std::getenv("TASKQ_PILOT_ID");
  const char* secret = std::getenv("TASKQ_PILOT_SECRET");
  if (address == nullptr || number == nullptr || secret == nullptr) {
    std::fprintf(stderr,
                 "taskq-worker: TASKQ_PILOT_ADDRESS, TASKQ_PILOT_ID and TASKQ_PILOT_SECRET must be "
                 "set (taskqd's pilot jobs set them)\n");
    return 2;
  }
  settings.address = address;
  settings.secret = secret;
  try {
    settings.number = static_cast<uint32_t>(std::stoul(number));
  } catch (const std::exception&) {
    std::fprintf(stderr, "taskq-worker: TASKQ_PILOT_ID is not a number: %s\n", number);
    return 2;
  }
  // The secret is not for the tasks' eyes (they get their own environment anyway).
  ::unsetenv("TASKQ_PILOT_SECRET");
  ::unsetenv("TASKQ_PILOT_ADDRESS");
  ::unsetenv("TASKQ_PILOT_ID");
  const char* node = std::getenv("SLURMD_NODENAME");
  char host[256] = {};
  ::gethostname(host, sizeof host - 1);
  settings.node = node != nullptr ? node : host;
  std::error_code ec;
  const auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
  settings.runner = ec ? "taskq-run" : (self.parent_path() / "taskq-run").string();
  ::signal(SIGPIPE, SIG_IGN);
  taskq::PilotClient client(std::move(settings));
  return client.Run();
}
