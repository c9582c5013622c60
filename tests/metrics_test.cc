// `taskq metrics` and taskqd's `metrics_listen:` endpoint (common/metrics.cc,
// daemon/metrics_server.cc) against a real taskqd, read back with prometheus_client's parser
// (tests/metrics_parse.py), and the commands of docs/METRICS.md.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "tests/test_util.h"

namespace taskq::testing {
namespace {

using nlohmann::json;

const std::string kParser = TASKQ_SOURCE_DIR "/tests/metrics_parse.py";
// Debian's interpreter, where python3-prometheus-client installs the parser (not a python3 that
// happens to come first on PATH).
const std::string kPython = "/usr/bin/python3";

// A listening TCP socket on 127.0.0.1 at a port the kernel picked; closed at destruction.
class Listener {
 public:
  Listener() {
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t size = sizeof(address);
    if (bind(fd_, reinterpret_cast<sockaddr*>(&address), size) == 0 && listen(fd_, 1) == 0 &&
        getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &size) == 0) {
      port_ = ntohs(address.sin_port);
    }
  }
  ~Listener() { Close(); }
  void Close() {
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
  }
  int port() const { return port_; }

 private:
  int fd_ = -1;
  int port_ = 0;
};

// What the parser read: sample name and labels -> value.
struct Parsed {
  json types;
  std::map<std::string, double> values;  // "name{k=v,k=v}" with labels sorted (queue left out)

  double At(const std::string& key) const {
    auto it = values.find(key);
    EXPECT_NE(it, values.end()) << "no sample " << key;
    return it == values.end() ? -1 : it->second;
  }
};

Parsed Parse(const CommandResult& r) {
  EXPECT_EQ(r.exit_code, 0) << Describe(r);
  Parsed parsed;
  const json doc = json::parse(r.out, nullptr, false);
  if (doc.is_discarded()) {
    ADD_FAILURE() << "parser output is not JSON: " << Describe(r);
    return parsed;
  }
  parsed.types = doc["types"];
  for (const json& sample : doc["samples"]) {
    std::string key = sample[0].get<std::string>() + "{";
    bool first = true;
    for (const auto& [name, value] : sample[1].items()) {  // nlohmann keeps keys sorted
      if (name == "queue") continue;
      key += (first ? "" : ",") + name + "=" + value.get<std::string>();
      first = false;
    }
    parsed.values[key + "}"] = sample[2].get<double>();
  }
  return parsed;
}

Parsed ParseText(const std::string& text) { return Parse(RunCommand({kPython, kParser}, text)); }

// The figures of the tasks MetricsTest runs: in `default` one succeeded and one failed task, in
// `held` (paused) one queued task; `side` is a pool group of 2 workers.
void ExpectFigures(const Parsed& m) {
  EXPECT_EQ(m.types["taskq_group_wait_seconds"], "histogram");
  EXPECT_EQ(m.types["taskq_group_run_seconds"], "histogram");
  EXPECT_EQ(m.types["taskq_submitted"], "counter");  // the parser drops _total from the family
  EXPECT_EQ(m.types["taskq_lock_repairs"], "counter");
  EXPECT_EQ(m.At("taskq_submitted_total{}"), 3);
  EXPECT_EQ(m.At("taskq_finished_total{}"), 2);
  EXPECT_EQ(m.At("taskq_lock_repairs_total{}"), 0);
  EXPECT_EQ(m.At("taskq_group_finished{group=default,state=succeeded}"), 1);
  EXPECT_EQ(m.At("taskq_group_finished{group=default,state=failed}"), 1);
  EXPECT_EQ(m.At("taskq_group_finished{group=default,state=cancelled}"), 0);
  EXPECT_EQ(m.At("taskq_group_queued{group=held}"), 1);
  EXPECT_EQ(m.At("taskq_group_queued{group=default}"), 0);
  EXPECT_EQ(m.At("taskq_group_running{group=default}"), 0);
  EXPECT_EQ(m.At("taskq_group_paused{group=held}"), 1);
  EXPECT_EQ(m.At("taskq_group_workers{group=side}"), 2);
  EXPECT_EQ(m.At("taskq_group_info{group=side,policy=pool}"), 1);
  EXPECT_EQ(m.At("taskq_group_run_seconds_count{group=default}"), 2);
  EXPECT_EQ(m.At("taskq_group_run_seconds_bucket{group=default,le=+Inf}"), 2);
  EXPECT_EQ(m.At("taskq_group_wait_seconds_count{group=default}"), 2);
  EXPECT_EQ(m.At("taskq_group_wait_seconds_count{group=held}"), 0);
  EXPECT_GE(m.At("taskq_group_run_seconds_sum{group=default}"), 0);
}

class MetricsTest : public ::testing::Test {
 protected:
  // Starts a daemon serving metrics on a free loopback port and runs the tasks ExpectFigures
  // counts. The port is found by binding port 0 and closing it again; should another process take
  // it in between, the start is retried on a new port.
  void StartWithTasks() {
    for (int attempt = 0; attempt < 5 && !daemon_; ++attempt) {
      Listener free_port;
      port_ = free_port.port();
      ASSERT_NE(port_, 0);
      free_port.Close();
      auto daemon = std::make_unique<Daemon>(
          "workers: 1\ngroups:\n  side:\n    policy: pool\n    workers: 2\n"
          "metrics_listen: 127.0.0.1:" +
          std::to_string(port_) + "\n");
      if (daemon->Start()) {
        daemon_ = std::move(daemon);
      } else {
        ASSERT_NE(daemon->log().find("metrics_listen: cannot listen"), std::string::npos)
            << daemon->log();
      }
    }
    ASSERT_TRUE(daemon_) << "no free port in 5 attempts";
    Daemon& d = *daemon_;
    CommandResult r = d.Taskq({"submit", "--wait", "cpu", "--count", "1000"});
    ASSERT_EQ(r.exit_code, 0) << Describe(r);
    r = d.Taskq({"submit", "--wait", "exec", "--", "/bin/false"});
    ASSERT_EQ(r.exit_code, 1) << Describe(r);
    ASSERT_EQ(d.Taskq({"group", "add", "held"}).exit_code, 0);
    ASSERT_EQ(d.Taskq({"group", "pause", "held"}).exit_code, 0);
    r = d.Taskq({"submit", "cpu", "--group", "held"});
    ASSERT_EQ(r.exit_code, 0) << Describe(r);
  }

  std::string Url(const std::string& path = "/metrics") const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }

  std::unique_ptr<Daemon> daemon_;
  int port_ = 0;
};

TEST_F(MetricsTest, CommandPrintsWhatTheParserReads) {
  StartWithTasks();
  if (HasFatalFailure()) return;
  // docs/METRICS.md: `taskq metrics`
  CommandResult r = daemon_->Taskq({"metrics"});
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  EXPECT_NE(r.out.find("queue=\"" + daemon_->queue() + "\""), std::string::npos) << r.out;
  const Parsed m = ParseText(r.out);
  ExpectFigures(m);
  EXPECT_EQ(m.At("taskq_daemon_up{}"), 1);

  // docs/METRICS.md: `taskq --queue build metrics`, here the test's queue and no --config.
  r = RunCommand({TaskqPath(), "--queue", daemon_->queue(), "metrics"}, "", {{"TASKQ_CONFIG", ""}});
  ExpectFigures(ParseText(r.out));
}

TEST_F(MetricsTest, EndpointServesTheSameFigures) {
  StartWithTasks();
  if (HasFatalFailure()) return;
  // Python's urllib (which also checks the content type), then docs/METRICS.md's
  // `curl -s http://127.0.0.1:9464/metrics` on the test's port.
  const Parsed m = Parse(RunCommand({kPython, kParser, Url()}));
  ExpectFigures(m);
  EXPECT_EQ(m.At("taskq_daemon_up{}"), 1);
  CommandResult curl = RunCommand({"/usr/bin/curl", "-s", Url()});
  ASSERT_EQ(curl.exit_code, 0) << Describe(curl);
  ExpectFigures(ParseText(curl.out));
  CommandResult status = RunCommand({kPython, kParser, "--status", Url("/other")});
  EXPECT_EQ(status.out, "404\n") << Describe(status);
  EXPECT_TRUE(daemon_->WaitForLog("serving metrics at http://127.0.0.1:" + std::to_string(port_)));
}

TEST_F(MetricsTest, OutputFileForTheTextfileCollector) {
  StartWithTasks();
  if (HasFatalFailure()) return;
  // docs/METRICS.md: `taskq metrics --output /var/lib/prometheus/node-exporter/taskq.prom`
  const std::string prom = daemon_->dir() + "/taskq.prom";
  CommandResult r = daemon_->Taskq({"metrics", "--output", prom});
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  EXPECT_TRUE(r.out.empty()) << r.out;
  EXPECT_FALSE(std::filesystem::exists(prom + ".tmp"));
  std::ifstream in(prom);
  std::stringstream text;
  text << in.rdbuf();
  ExpectFigures(ParseText(text.str()));

  // A directory that does not exist: one line naming --output, exit 2.
  r = daemon_->Taskq({"metrics", "--output", daemon_->dir() + "/missing/taskq.prom"});
  EXPECT_EQ(r.exit_code, 2) << Describe(r);
  EXPECT_EQ(r.err.rfind("taskq: --output: cannot write", 0), 0u) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
}

TEST_F(MetricsTest, StoppedDaemonStillHasMetrics) {
  StartWithTasks();
  if (HasFatalFailure()) return;
  ASSERT_EQ(daemon_->Stop(), 0);
  CommandResult r = daemon_->Taskq({"metrics"});
  const Parsed m = ParseText(r.out);
  EXPECT_EQ(m.At("taskq_daemon_up{}"), 0);
  EXPECT_EQ(m.At("taskq_group_finished{group=default,state=succeeded}"), 1);
}

TEST(Metrics, PortInUseIsOneLineNamingTheKey) {
  Listener taken;
  ASSERT_NE(taken.port(), 0);
  Daemon daemon("metrics_listen: 127.0.0.1:" + std::to_string(taken.port()) + "\n");
  EXPECT_FALSE(daemon.Start());
  const std::string log = daemon.log();
  EXPECT_NE(log.find("metrics_listen: cannot listen on 127.0.0.1:" + std::to_string(taken.port()) +
                     ": Address already in use; choose a free port"),
            std::string::npos)
      << log;
}

TEST(Metrics, NoQueueIsExit3) {
  CommandResult r = RunCommand({TaskqPath(), "--queue", UniqueQueueName(), "metrics"});
  EXPECT_EQ(r.exit_code, 3) << Describe(r);
}

}  // namespace
}  // namespace taskq::testing
