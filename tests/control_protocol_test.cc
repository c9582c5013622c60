// The control socket's request parser (common/control_protocol.h) on its own: what a member's
// bytes may say and what the daemon refuses. The daemon-level attacks are in multi_user_test.cc.
#include "common/control_protocol.h"

#include <gtest/gtest.h>

#include <string>

namespace taskq {
namespace {

ControlRequest ParseOk(const std::string& body) {
  ControlRequest request;
  const Status status = ParseControlRequest(body, &request);
  EXPECT_TRUE(status.ok()) << body << ": " << status.message();
  return request;
}

std::string ParseError(const std::string& body) {
  ControlRequest request;
  const Status status = ParseControlRequest(body, &request);
  EXPECT_FALSE(status.ok()) << body << " was accepted";
  return status.message();
}

TEST(ControlProtocol, EveryOpSerializesBackToItself) {
  for (
      const std::string body : {
          R"({"op":"submit","tasks":[{"kind":"cpu","count":10,"seed":3}]})",
          R"({"op":"cancel","id":7})",
          R"({"op":"kill","id":7})",
          R"({"op":"kill","id":7,"signal":10})",
          R"({"op":"hold","id":7})",
          R"({"op":"release","id":7})",
          R"({"op":"pause","id":7})",
          R"({"op":"resume","id":7})",
          R"({"op":"restart","id":7})",
          R"({"op":"logs","id":7,"stderr":false,"attempt":2})",
          R"({"op":"submit","tasks":[{"kind":"cpu","retries":2,"retry_on":"failed,lost","retry_delay_ms":100,"retry_delay_max_ms":400}]})",
          R"({"op":"submit","tasks":[{"kind":"cpu","count":10,"hold":true}]})",
          R"({"op":"submit","tasks":[{"kind":"cpu","labels":["team=a","x="],"unique":"k"}]})",
          R"({"op":"submit","tasks":[{"kind":"cpu","array_index":4,"array_id":12}]})",
          R"({"op":"ping"})",
          R"({"op":"logs","id":7,"stderr":true})",
          R"({"op":"shutdown"})",
          R"({"op":"group","action":"add","name":"build","policy":"process","workers":2,"max_parallel":3})",
          R"({"op":"repair"})",
          R"({"op":"reload"})",
      }) {
    const ControlRequest request = ParseOk(body);
    std::string text;
    ASSERT_TRUE(SerializeControlRequest(request, &text).ok()) << body;
    const ControlRequest again = ParseOk(text);
    EXPECT_EQ(again.op, request.op) << body;
    EXPECT_EQ(again.id, request.id) << body;
    EXPECT_EQ(again.signal, request.signal) << body;
    EXPECT_EQ(again.stderr_stream, request.stderr_stream) << body;
    EXPECT_EQ(again.attempt, request.attempt) << body;
    EXPECT_EQ(again.group_action, request.group_action) << body;
    EXPECT_EQ(again.name, request.name) << body;
    EXPECT_EQ(again.group.workers, request.group.workers) << body;
    EXPECT_EQ(again.group.max_parallel, request.group.max_parallel) << body;
    EXPECT_EQ(again.tasks.size(), request.tasks.size()) << body;
    for (size_t i = 0; i < again.tasks.size() && i < request.tasks.size(); ++i) {
      EXPECT_EQ(again.tasks[i].hold, request.tasks[i].hold) << body;
      EXPECT_EQ(again.tasks[i].labels, request.tasks[i].labels) << body;
      EXPECT_EQ(again.tasks[i].unique, request.tasks[i].unique) << body;
      EXPECT_EQ(again.tasks[i].array_id, request.tasks[i].array_id) << body;
      EXPECT_EQ(again.tasks[i].array_index, request.tasks[i].array_index) << body;
      EXPECT_EQ(again.tasks[i].retry_on, request.tasks[i].retry_on) << body;
      EXPECT_EQ(again.tasks[i].retry_delay_ms, request.tasks[i].retry_delay_ms) << body;
      EXPECT_EQ(again.tasks[i].retry_delay_max_ms, request.tasks[i].retry_delay_max_ms) << body;
    }
  }
}

// Found by fuzz_request in CI: a field another op takes was accepted and then dropped, so the
// request did not mean what it said. Now it is refused, naming the op and the field.
TEST(ControlProtocol, BadLabelsAreRefusedNamingTheField) {
  EXPECT_NE(ParseError(R"({"op":"submit","tasks":[{"kind":"cpu","labels":["nokey"]}]})")
                .find("--label: expected KEY=VALUE"),
            std::string::npos);
  EXPECT_NE(ParseError(R"({"op":"submit","tasks":[{"kind":"cpu","labels":["unique=x"]}]})")
                .find("use --unique KEY"),
            std::string::npos);
  EXPECT_NE(
      ParseError(R"({"op":"submit","tasks":[{"kind":"cpu","unique":"a\nb"}]})").find("--unique"),
      std::string::npos);
}

TEST(ControlProtocol, AFieldTheOpDoesNotTakeIsRefused) {
  EXPECT_EQ(ParseError(R"({"op":"ping","id":5})"),
            "request: op 'ping' takes no field 'id'; remove it");
  EXPECT_EQ(ParseError(R"({"op":"submit","name":"x","tasks":[{"kind":"cpu"}]})"),
            "request: op 'submit' takes no field 'name'; remove it");
  EXPECT_EQ(ParseError(R"({"op":"cancel","id":3,"stderr":true})"),
            "request: op 'cancel' takes no field 'stderr'; remove it");
  EXPECT_EQ(ParseError(R"({"op":"cancel","id":3,"signal":15})"),
            "request: op 'cancel' takes no field 'signal'; remove it");
}

// Also found by fuzz_request: an env entry without '=' was accepted, then the daemon could not
// read the record back.
TEST(ControlProtocol, AnEnvEntryWithoutEqualsIsRefused) {
  EXPECT_EQ(
      ParseError(R"({"op":"submit","tasks":[{"kind":"exec","argv":["/bin/true"],"env":["A91"]}]})"),
      "task 1 of 1: --env: expected NAME=VALUE, got 'A91'");
}

TEST(ControlProtocol, AnUnknownFieldSuchAsAForgedUidIsRefused) {
  EXPECT_EQ(ParseError(R"({"op":"submit","uid":0,"tasks":[{"kind":"cpu"}]})"),
            "request: unknown field 'uid'");
}

TEST(ControlProtocol, WrongTypesAndRangesNameTheField) {
  EXPECT_EQ(ParseError(R"({"op":"cancel","id":0})"),
            "request: field 'id' must be a task id (1 or more)");
  EXPECT_EQ(ParseError(R"({"op":"fly"})"),
            "request: field 'op' must be submit, cancel, kill, hold, release, pause, resume, "
            "restart, ping, logs, shutdown, group, repair or reload");
  EXPECT_EQ(ParseError(R"({"op":"kill","id":3,"signal":19})"),
            "request: field 'signal' must be the number of TERM, INT, HUP, QUIT, KILL, USR1, USR2 "
            "or ALRM");
  EXPECT_EQ(ParseError(R"({"op":"kill"})"), "request: field 'id' must be a task id (1 or more)");
  EXPECT_EQ(ParseError(R"({"op":"submit","tasks":[]})").substr(0, 31),
            "request: field 'tasks' must be ");
  EXPECT_EQ(ParseError("[1,2]"), "request: not a JSON object");
}

}  // namespace
}  // namespace taskq
