// PilotClient is taskq-worker's whole life on a compute node: it connects to taskqd, says hello
// with its pilot number and secret, then runs the tasks it is leased (at most the slots taskqd
// gives it), streams their output back while they run, reports each result, beats every
// heartbeat interval and asks to stop once idle for idle_timeout. It kills its tasks and exits
// when the connection is lost (taskqd requeues them) or when Slurm sends SIGTERM.
#pragma once

#include <sys/resource.h>
#include <sys/types.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <map>
#include <memory>
#include <string>

#include "common/frame_connection.h"
#include "common/pilot_protocol.h"

namespace taskq {

struct PilotSettings {
  std::string address;  // HOST:PORT of taskqd's pilot listener
  uint32_t number = 0;  // this pilot's number, as taskqd submitted it
  std::string secret;   // this pilot's secret (hex)
  std::string node;     // shown by taskqd, never trusted
  std::string runner;   // taskq-run, for cpu and io tasks
  uint64_t idle_timeout_ms = 300000;
};

class PilotClient {
 public:
  explicit PilotClient(PilotSettings settings);
  // Runs until told to stop, the connection is lost or SIGTERM; the exit code.
  int Run();

 private:
  struct RunningTask {
    PilotTask task;
    pid_t pid = 0;
    // The task's stdout and stderr: in-memory files (memfd), read as they grow. Not files in a
    // scratch directory: each task would create and delete two inodes on the node's disk, which
    // cost more than the task on a busy ext4 (docs/SCALE-OUT.md, "Measured here").
    int out_fd = -1;
    int err_fd = -1;
    off_t out_sent = 0;
    off_t err_sent = 0;
  };

  bool Connect(std::string* why);
  void ArmSignals();
  void OnFrame(Frame& frame);
  void StartTask(const PilotTask& task);
  void Reap();
  void Finished(RunningTask& running, int wait_status, const rusage& usage);
  void SendOutput(RunningTask& running, bool all);
  void Beat();
  void Pump();
  void Kill(uint64_t id);
  void Exit(int code, const std::string& why);
  static void CloseOutput(RunningTask& running);

  PilotSettings settings_;
  boost::asio::io_context io_;
  boost::asio::signal_set signals_;
  boost::asio::steady_timer heartbeat_;
  boost::asio::steady_timer pump_;
  std::shared_ptr<FrameConnection> connection_;
  std::map<pid_t, RunningTask> running_;
  uint64_t heartbeat_ms_ = 2500;
  uint64_t kill_grace_ms_ = 2000;
  uint64_t idle_since_us_ = 0;
  bool idle_sent_ = false;
  bool stopping_ = false;
  int exit_code_ = 0;
};

}  // namespace taskq
