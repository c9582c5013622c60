// The smallest program on the taskq client library: submit N `cpu` tasks to a running taskqd,
// wait for them, print each result, and exit 0 only if all succeeded — like
// `taskq submit cpu ... && taskq wait`, without a process per call.
//
//   submit_and_wait [--queue NAME] [--config FILE] [N]
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "taskq/client.h"

int main(int argc, char** argv) {
  taskq::ConnectOptions connect;
  int count = 4;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--queue" && i + 1 < argc) {
      connect.queue = argv[++i];
    } else if (arg == "--config" && i + 1 < argc) {
      connect.config_path = argv[++i];
    } else if (arg.find_first_not_of("0123456789") == std::string::npos && !arg.empty()) {
      count = std::atoi(arg.c_str());
    } else {
      std::fprintf(stderr, "usage: submit_and_wait [--queue NAME] [--config FILE] [N]\n");
      return 2;
    }
  }

  std::unique_ptr<taskq::Client> client;
  taskq::Status status = taskq::Client::Connect(connect, &client);
  if (!status.ok()) {
    std::fprintf(stderr, "submit_and_wait: %s\n", status.message().c_str());
    return static_cast<int>(status.code());
  }

  std::vector<taskq::TaskSpec> specs(static_cast<size_t>(count));
  for (int i = 0; i < count; ++i) {
    specs[i].kind = taskq::TaskKind::kCpu;
    specs[i].cpu.count = 100000;
    specs[i].cpu.seed = static_cast<uint64_t>(i);
  }
  std::vector<uint64_t> ids;
  status = client->Submit(specs, taskq::SubmitOptions{}, &ids);
  if (!status.ok()) {
    std::fprintf(stderr, "submit_and_wait: %s\n", status.message().c_str());
    return static_cast<int>(status.code());
  }

  std::vector<taskq::TaskInfo> done;
  status = client->Wait(ids, /*timeout_ms=*/60000, &done);
  if (!status.ok()) {
    std::fprintf(stderr, "submit_and_wait: %s\n", status.message().c_str());
    return static_cast<int>(status.code());
  }
  int failures = 0;
  for (const taskq::TaskInfo& task : done) {
    const bool ok = task.state == taskq::TaskState::kSucceeded;
    failures += ok ? 0 : 1;
    std::printf("task %llu %s checksum %016llx count %llu\n",
                static_cast<unsigned long long>(task.id()), taskq::TaskStateName(task.state),
                static_cast<unsigned long long>(task.record.result_checksum),
                static_cast<unsigned long long>(task.record.result_count));
  }
  return failures == 0 ? 0 : 1;
}
