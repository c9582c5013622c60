// taskq-run: runs one built-in task (the kernels of common/kernels.h) from its command line and
// prints the result as one JSON line on stdout. The `slurm` policy runs it as the batch job of a
// cpu or io task on a compute node, which needs neither the queue nor taskqd there.
//   taskq-run cpu --count N --seed S
//   taskq-run io --bytes N --path P [--root R] [--block B] [--fsync]
// With --root, P is relative and opened beneath R as the local workers do (security.io_root: no
// "..", symlink or mount point leads out of it); without it P is a path taskqd made itself.
// Exit codes: 0 done, 1 the task failed ({"error": ...} is printed), 2 usage.
#include <sys/resource.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "common/kernels.h"
#include "common/spawn.h"
#include "fmt/format.h"

namespace {

void AddUsage(const rusage& before, nlohmann::json* j) {
  rusage after{};
  getrusage(RUSAGE_SELF, &after);
  const taskq::Usage u = taskq::UsageDelta(before, after);
  (*j)["user_us"] = u.user_us;
  (*j)["sys_us"] = u.sys_us;
  (*j)["max_rss_kb"] = u.max_rss_kb;
  (*j)["read_bytes"] = u.read_bytes;
  (*j)["write_bytes"] = u.write_bytes;
  (*j)["vol_ctxsw"] = u.vol_ctxsw;
  (*j)["invol_ctxsw"] = u.invol_ctxsw;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"taskq-run: runs one built-in taskq task and prints its result as one JSON line",
               "taskq-run"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "taskq-run " TASKQ_VERSION);
  uint64_t count = 1000000, seed = 0, bytes = 64, block = 4096;
  std::string path, root;
  bool fsync = false;
  CLI::App* cpu = app.add_subcommand("cpu", "append N pseudo-random numbers to a list");
  cpu->add_option("--count", count, "numbers to generate")->required();
  cpu->add_option("--seed", seed, "generator seed");
  CLI::App* io = app.add_subcommand("io", "write N bytes to a file");
  io->add_option("--bytes", bytes, "bytes to write")->required();
  io->add_option("--path", path, "file to create or truncate")->required();
  io->add_option("--root", root, "open --path beneath this directory (security.io_root)");
  io->add_option("--block", block, "write() size")
      ->check(CLI::Range(uint64_t{1}, uint64_t{1} << 30));
  io->add_flag("--fsync", fsync, "fsync before close");
  CLI11_PARSE(app, argc, argv);

  rusage before{};
  getrusage(RUSAGE_SELF, &before);
  nlohmann::json result;
  int code = 0;
  if (cpu->parsed()) {
    const taskq::CpuResult r = taskq::RunCpuKernel(count, seed);
    result["kind"] = "cpu";
    result["checksum"] = fmt::format("{:016x}", r.checksum);
    result["count"] = r.count;
  } else {
    uint64_t written = 0;
    const taskq::Status s = taskq::RunIoKernel(root, path, bytes, block, fsync, &written);
    result["kind"] = "io";
    result["bytes"] = written;
    result["count"] = written;
    if (!s.ok()) {
      result["error"] = s.message();
      code = 1;
    }
  }
  AddUsage(before, &result);
  std::printf("%s\n", result.dump().c_str());
  return code;
}
