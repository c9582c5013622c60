// The systemd side of a real taskqd without systemd: the test binds the AF_UNIX datagram socket
// that NOTIFY_SOCKET names and reads what the daemon sends (READY=1 once the workers are up,
// STATUS= summaries, RELOADING=1/READY=1 around a reload, WATCHDOG=1 pings, STOPPING=1), and
// checks the journal log format under JOURNAL_STREAM.
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <mutex>
#include <regex>
#include <sstream>
#include <thread>

#include "tests/test_util.h"

namespace taskq::testing {
namespace {

// The receiving end of sd_notify(3). A thread drains the socket at once: a unix datagram queue
// holds only net.unix.max_dgram_qlen (often 10) messages, and a full one would block the daemon.
class NotifySocket {
 public:
  NotifySocket() {
    path_ = dir_.path() + "/notify";
    fd_ = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::snprintf(address.sun_path, sizeof(address.sun_path), "%s", path_.c_str());
    ok_ = fd_ >= 0 && bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0;
    reader_ = std::thread([this] { Read(); });
  }
  ~NotifySocket() {
    stop_ = true;
    reader_.join();
    if (fd_ >= 0) close(fd_);
  }
  bool ok() const { return ok_; }
  const std::string& path() const { return path_; }

  std::vector<std::string> Messages() {
    std::lock_guard<std::mutex> lock(mutex_);
    return messages_;
  }
  // Index of the first message at or after `from` that contains `text`, or -1.
  int Find(const std::string& text, int from = 0) {
    std::vector<std::string> all = Messages();
    for (int i = from; i < static_cast<int>(all.size()); ++i) {
      if (all[i].find(text) != std::string::npos) return i;
    }
    return -1;
  }
  int Count(const std::string& text) {
    int n = 0;
    for (const std::string& m : Messages()) n += m.find(text) != std::string::npos ? 1 : 0;
    return n;
  }
  bool WaitFor(const std::string& text, int count = 1) {
    return WaitUntil([&] { return Count(text) >= count; });
  }
  std::string Dump() {
    std::string all;
    for (const std::string& m : Messages()) all += "[" + m + "]\n";
    return all;
  }

 private:
  void Read() {
    char buffer[4096];
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, 20) <= 0) continue;
      ssize_t n = recv(fd_, buffer, sizeof(buffer), 0);
      if (n <= 0) continue;
      std::lock_guard<std::mutex> lock(mutex_);
      messages_.emplace_back(buffer, static_cast<size_t>(n));
    }
  }

  TempDir dir_;
  std::string path_;
  int fd_ = -1;
  bool ok_ = false;
  std::atomic<bool> stop_{false};
  std::mutex mutex_;
  std::vector<std::string> messages_;
  std::thread reader_;
};

TEST(Notify, MessagesAndTheirOrder) {
  NotifySocket notify;
  ASSERT_TRUE(notify.ok());
  Daemon daemon("policy: pool\nworkers: 2\n");
  daemon.SetEnv("NOTIFY_SOCKET", notify.path());
  daemon.SetEnv("WATCHDOG_USEC", "200000");  // no WATCHDOG_PID: meant for whoever reads it
  ASSERT_TRUE(daemon.Start()) << daemon.log();

  // READY=1 once both workers are up, with the one-line summary.
  ASSERT_TRUE(notify.WaitFor("READY=1")) << notify.Dump();
  const int ready = notify.Find("READY=1");
  const std::string ready_message = notify.Messages()[ready];
  EXPECT_NE(ready_message.find("STATUS=policy pool, 2 workers, queue depth 0"), std::string::npos)
      << ready_message;
  EXPECT_NE(ready_message.find("done 0, failed 0"), std::string::npos) << ready_message;
  EXPECT_EQ(notify.Count("READY=1"), 1) << notify.Dump();
  const std::string log = daemon.log();
  EXPECT_LT(log.find("worker 1 started"), log.find("info: ready")) << log;

  // Watchdog pings from the loop, every half interval.
  ASSERT_TRUE(notify.WaitFor("WATCHDOG=1", 3)) << notify.Dump();

  // STATUS= follows the counts.
  ASSERT_EQ(daemon.Taskq({"submit", "--wait", "cpu", "--count", "100"}).exit_code, 0);
  ASSERT_EQ(daemon.Taskq({"submit", "--wait", "exec", "--", "/bin/false"}).exit_code, 1);
  ASSERT_TRUE(notify.WaitFor("queue depth 0, running 0, done 1, failed 1")) << notify.Dump();

  // A reload: RELOADING=1, then READY=1 once the new workers are up.
  daemon.WriteConfig("policy: pool\nworkers: 3\n");
  ASSERT_TRUE(daemon.Signal(SIGHUP));
  ASSERT_TRUE(notify.WaitFor("READY=1", 2)) << notify.Dump();
  const int reloading = notify.Find("RELOADING=1");
  ASSERT_GT(reloading, ready) << notify.Dump();
  EXPECT_NE(notify.Messages()[reloading].find("MONOTONIC_USEC="), std::string::npos);
  const int ready_again = notify.Find("READY=1", reloading);
  ASSERT_GT(ready_again, reloading) << notify.Dump();
  EXPECT_NE(notify.Messages()[ready_again].find("policy pool, 3 workers"), std::string::npos)
      << notify.Dump();

  // A failed reload also ends in READY=1: the old configuration goes on.
  daemon.WriteConfig("policy: pool\nworkers: nine\n");
  ASSERT_TRUE(daemon.Signal(SIGHUP));
  ASSERT_TRUE(notify.WaitFor("READY=1", 3)) << notify.Dump();
  const int reloading2 = notify.Find("RELOADING=1", ready_again);
  ASSERT_GT(reloading2, ready_again) << notify.Dump();
  const int ready_third = notify.Find("READY=1", reloading2);
  ASSERT_GT(ready_third, reloading2) << notify.Dump();
  EXPECT_NE(notify.Messages()[ready_third].find("3 workers"), std::string::npos);
  daemon.WriteConfig("policy: pool\nworkers: 3\n");

  // Shutdown: STOPPING=1, and no READY=1 after it.
  EXPECT_EQ(daemon.Stop(), 0) << daemon.log();
  ASSERT_TRUE(notify.WaitFor("STOPPING=1")) << notify.Dump();
  const int stopping = notify.Find("STOPPING=1");
  EXPECT_GT(stopping, ready_third);
  EXPECT_EQ(notify.Find("READY=1", stopping), -1) << notify.Dump();
  EXPECT_EQ(notify.Count("STOPPING=1"), 1);
  EXPECT_EQ(notify.Count("RELOADING=1"), 2);
  for (const std::string& m : notify.Messages()) {
    EXPECT_TRUE(m.rfind("READY=1", 0) == 0 || m.rfind("STATUS=", 0) == 0 ||
                m.rfind("RELOADING=1", 0) == 0 || m.rfind("STOPPING=1", 0) == 0 ||
                m == "WATCHDOG=1")
        << "unexpected message [" << m << "]";
  }
}

TEST(Notify, ProcessPolicyReadyAtOnceAndNoWatchdogUnlessAsked) {
  NotifySocket notify;
  ASSERT_TRUE(notify.ok());
  Daemon daemon("policy: process\nmax_parallel: 4\n");
  daemon.SetEnv("NOTIFY_SOCKET", notify.path());
  ASSERT_TRUE(daemon.Start()) << daemon.log();
  ASSERT_TRUE(notify.WaitFor("READY=1")) << notify.Dump();
  EXPECT_NE(notify.Messages()[notify.Find("READY=1")].find("STATUS=policy process"),
            std::string::npos)
      << notify.Dump();
  // Two periodic STATUS= updates (a second apart) and still no watchdog ping.
  ASSERT_TRUE(notify.WaitFor("STATUS=", 3)) << notify.Dump();
  EXPECT_EQ(notify.Count("WATCHDOG=1"), 0) << notify.Dump();
  EXPECT_EQ(daemon.Stop(), 0);
  ASSERT_TRUE(notify.WaitFor("STOPPING=1")) << notify.Dump();
}

// Runner processes must not see the service's NOTIFY_SOCKET or WATCHDOG_*: a task could
// otherwise send READY=1 or pings in the daemon's name.
TEST(Notify, RunnersDoNotInheritTheNotifySocket) {
  NotifySocket notify;
  ASSERT_TRUE(notify.ok());
  // Even allowed by env_allow, systemd's variables reach no task, under either policy. (Workers
  // and runners are forks of the supervisor: /proc/PID/environ shows the block the supervisor
  // was started with, so what counts is what a task gets.)
  for (const char* policy : {"pool", "process"}) {
    SCOPED_TRACE(policy);
    Daemon daemon(std::string("policy: ") + policy +
                  "\nworkers: 1\nsecurity:\n  env_allow: [PATH, NOTIFY_SOCKET, WATCHDOG_USEC]\n");
    daemon.SetEnv("NOTIFY_SOCKET", notify.path());
    daemon.SetEnv("WATCHDOG_USEC", "10000000");
    ASSERT_TRUE(daemon.Start()) << daemon.log();
    const std::string out = daemon.dir() + "/env.txt";
    ASSERT_EQ(daemon
                  .Taskq({"submit", "--wait", "exec", "--", "/bin/sh", "-c",
                          "echo \"[$NOTIFY_SOCKET][$WATCHDOG_USEC]\" > \"$0\"", out})
                  .exit_code,
              0);
    std::ifstream in(out);
    std::string line;
    std::getline(in, line);
    EXPECT_EQ(line, "[][]");
    EXPECT_EQ(daemon.Stop(), 0);
  }
}

// Under systemd (JOURNAL_STREAM names the stream stderr is on) every line, the workers' too,
// starts with its sd-daemon(3) priority and carries no timestamp.
TEST(Journal, PriorityPrefixesWithoutTimestamps) {
  Daemon daemon("policy: pool\nworkers: 1\n");
  std::ofstream(daemon.log_path()).close();
  struct stat st {};
  ASSERT_EQ(stat(daemon.log_path().c_str(), &st), 0);
  daemon.SetEnv("JOURNAL_STREAM", std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino));
  ASSERT_TRUE(daemon.Start()) << daemon.log();
  ASSERT_EQ(daemon.Taskq({"submit", "--wait", "cpu", "--count", "10"}).exit_code, 0);
  daemon.WriteConfig("policy: pool\nworkers: 1\ncapacity: 1024\n");  // warning: needs a restart
  ASSERT_TRUE(daemon.Signal(SIGHUP));
  ASSERT_TRUE(daemon.WaitForLog("configuration reloaded")) << daemon.log();
  daemon.WriteConfig("policy: pool\nworkers: 1\nbogus: 1\n");  // error: invalid
  ASSERT_TRUE(daemon.Signal(SIGHUP));
  ASSERT_TRUE(daemon.WaitForLog("reload failed")) << daemon.log();
  daemon.WriteConfig("policy: pool\nworkers: 1\n");
  EXPECT_EQ(daemon.Stop(), 0);
  const std::string log = daemon.log();
  std::istringstream in(log);
  const std::regex line_format(R"(^<[0-7]>[^<\s].*$)");
  const std::regex timestamp(R"(\d{4}-\d\d-\d\d \d\d:\d\d)");
  int lines = 0;
  for (std::string line; std::getline(in, line);) {
    ++lines;
    EXPECT_TRUE(std::regex_match(line, line_format)) << "[" << line << "]";
    EXPECT_FALSE(std::regex_search(line, timestamp)) << "[" << line << "]";
  }
  EXPECT_GE(lines, 8);
  for (const char* wanted :
       {"<6>ready\n", "<6>worker 0 started (pid ", "<7>task 1 (cpu) started in worker 0",
        "<7>task 1 ended in worker 0: succeeded", "<4>reload: 'capacity' changed",
        "<3>reload failed", "<6>SIGTERM received: draining", "<6>stopped\n"}) {
    EXPECT_NE(log.find(wanted), std::string::npos) << "no '" << wanted << "' in\n" << log;
  }
}

// JOURNAL_STREAM inherited from a service but with stderr sent elsewhere: the usual format.
TEST(Journal, ForeignJournalStreamKeepsTimestamps) {
  Daemon daemon("policy: process\n");
  daemon.SetEnv("JOURNAL_STREAM", "1:1");
  ASSERT_TRUE(daemon.Start()) << daemon.log();
  EXPECT_EQ(daemon.Stop(), 0);
  const std::string log = daemon.log();
  EXPECT_TRUE(std::regex_search(
      log,
      std::regex(R"(^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} taskqd\[\d+\] info: serving queue)")))
      << log;
  EXPECT_EQ(log.find("<6>"), std::string::npos) << log;
}

}  // namespace
}  // namespace taskq::testing
