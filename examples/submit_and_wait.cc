// The smallest program on libtaskq (include/taskq/taskq.h): submit N `cpu` tasks to a running
// taskqd, wait for them, print each result, and exit 0 only if all succeeded — like
// `taskq submit cpu ... && taskq wait`, without a process per call. Build it against an
// installed libtaskq with
//
//   c++ -std=c++20 -o submit_and_wait submit_and_wait.cc $(pkg-config --cflags --libs taskq)
//
//   submit_and_wait [--queue NAME] [--config FILE] [N]
#include <taskq/taskq.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

namespace api = taskq::api;

int main(int argc, char** argv) {
  api::ConnectOptions connect;
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

  std::unique_ptr<api::Client> client;
  api::Status status = api::Client::Connect(connect, &client);
  if (!status.ok()) {
    std::fprintf(stderr, "submit_and_wait: %s\n", status.message().c_str());
    return static_cast<int>(status.code());
  }

  std::vector<api::TaskSpec> specs;
  for (int i = 0; i < count; ++i) specs.push_back(api::TaskSpec::Cpu(100000, i));
  std::vector<uint64_t> ids;
  status = client->Submit(specs, api::SubmitOptions{}, &ids);
  if (!status.ok()) {
    std::fprintf(stderr, "submit_and_wait: %s\n", status.message().c_str());
    return static_cast<int>(status.code());
  }

  std::vector<api::TaskInfo> done;
  status = client->Wait(ids, /*timeout_ms=*/60000, &done);
  if (!status.ok()) {
    std::fprintf(stderr, "submit_and_wait: %s\n", status.message().c_str());
    return static_cast<int>(status.code());
  }
  int failures = 0;
  for (const api::TaskInfo& task : done) {
    failures += task.succeeded() ? 0 : 1;
    std::printf("task %llu %s checksum %016llx count %llu\n",
                static_cast<unsigned long long>(task.id), api::StateName(task.state),
                static_cast<unsigned long long>(task.checksum),
                static_cast<unsigned long long>(task.result_count));
  }
  return failures == 0 ? 0 : 1;
}
