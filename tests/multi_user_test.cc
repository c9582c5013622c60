// tests/multi_user_test.cc: the shared service of docs/SECURITY.md tried by hostile users.
// Real second and third users (useradd), clients run through setpriv or a forked child that drops
// to the user's uid, a daemon with `group:` set. One test per attack of issue 14 (each must now
// fail harmlessly), the rights of members, admins and outsiders, fair sharing between users and a
// member scribbling on the control socket while the daemon runs.
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>
#include <sstream>

#include "common/control_protocol.h"
#include "common/segment.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/test_util.h"

namespace taskq::testing {
namespace {

using nlohmann::json;

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

struct User {
  std::string name;
  uid_t uid = 0;
  gid_t gid = 0;
  std::vector<gid_t> groups;  // supplementary
};

// Three real users and two groups, removed again even when the test fails: `alice` and `bob`
// are members of the queue's group, `carol` is not; `ops` is the admins group (bob is in it
// only when a test says so).
class SharedService : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "SKIPPED: needs root to create users (useradd)";
    const std::string suffix = std::to_string(getpid() % 100000);
    group_ = "tqmg" + suffix;
    admins_ = "tqops" + suffix;
    for (const std::string& g : {group_, admins_}) {
      RunCommand({"/usr/sbin/groupdel", g});
      ASSERT_EQ(RunCommand({"/usr/sbin/groupadd", g}).exit_code, 0) << g;
      made_groups_.push_back(g);
    }
    for (const char* who : {"a", "b", "c"}) {
      User user;
      user.name = std::string("tqm") + who + suffix;
      RunCommand({"/usr/sbin/userdel", user.name});
      // alice and bob are members in the group database too (run_as: submitter reads it).
      std::vector<std::string> add = {"/usr/sbin/useradd", "-M", "-N", "-g", "nogroup", "-s",
                                      "/usr/sbin/nologin"};
      if (std::string(who) != "c") add.insert(add.end(), {"-G", group_});
      add.push_back(user.name);
      const CommandResult added = RunCommand(add);
      ASSERT_EQ(added.exit_code, 0) << Describe(added);
      made_users_.push_back(user.name);
      struct passwd* pw = getpwnam(user.name.c_str());
      ASSERT_NE(pw, nullptr);
      user.uid = pw->pw_uid;
      user.gid = pw->pw_gid;
      users_.push_back(user);
    }
    const gid_t members = getgrnam(group_.c_str())->gr_gid;
    admins_gid_ = getgrnam(admins_.c_str())->gr_gid;
    users_[0].groups = {members};
    users_[1].groups = {members};
  }
  void TearDown() override {
    daemon_.reset();  // stopped and purged before its users go
    for (const std::string& u : made_users_) RunCommand({"/usr/sbin/userdel", u});
    for (const std::string& g : made_groups_) RunCommand({"/usr/sbin/groupdel", g});
  }

  const User& alice() const { return users_[0]; }
  const User& bob() const { return users_[1]; }
  const User& carol() const { return users_[2]; }
  void MakeBobAnAdmin() { users_[1].groups.push_back(admins_gid_); }

  // A daemon (as root, `user: root`) shared with the group; its files reachable by others.
  Daemon& StartDaemon(const std::string& extra = "") {
    daemon_ = std::make_unique<Daemon>("workers: 1\ngroup: " + group_ + "\n" + extra);
    chmod(daemon_->dir().c_str(), 0755);
    chmod(daemon_->config_path().c_str(), 0644);
    EXPECT_TRUE(daemon_->Start()) << daemon_->log();
    return *daemon_;
  }

  std::vector<std::string> Setpriv(const User& user) const {
    std::vector<std::string> argv = {"/usr/bin/setpriv", "--reuid", std::to_string(user.uid),
                                     "--regid", std::to_string(user.gid)};
    if (user.groups.empty()) {
      argv.push_back("--clear-groups");
    } else {
      std::string list;
      for (gid_t g : user.groups) list += (list.empty() ? "" : ",") + std::to_string(g);
      argv.insert(argv.end(), {"--groups", list});
    }
    argv.push_back("--");
    return argv;
  }

  // `taskq --config <daemon's> args...` as `user`.
  CommandResult TaskqAs(const User& user, std::vector<std::string> args,
                        const std::string& input = "") {
    std::vector<std::string> argv = Setpriv(user);
    argv.insert(argv.end(), {TaskqPath(), "--config", daemon_->config_path()});
    argv.insert(argv.end(), args.begin(), args.end());
    return RunCommand(argv, input, {{"HOME", "/"}, {"XDG_RUNTIME_DIR", ""}});
  }
  // Any program as `user`.
  CommandResult RunAs(const User& user, std::vector<std::string> command) {
    std::vector<std::string> argv = Setpriv(user);
    argv.insert(argv.end(), command.begin(), command.end());
    return RunCommand(argv, "", {{"HOME", "/"}, {"XDG_RUNTIME_DIR", ""}});
  }
  // Runs `body` in a forked child that has become `user`; returns what `body` returned (or -1
  // when the child died). The body uses no gtest assertions: it reports through its result.
  int ForkAs(const User& user, const std::function<int()>& body) {
    const pid_t pid = fork();
    if (pid == 0) {
      if (setgroups(user.groups.size(), user.groups.data()) != 0 ||
          setresgid(user.gid, user.gid, user.gid) != 0 ||
          setresuid(user.uid, user.uid, user.uid) != 0) {
        _exit(100);
      }
      _exit(body());
    }
    int status = 0;
    waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

  uint64_t SubmittedId(const CommandResult& r) {
    try {
      return json::parse(FirstLine(r.out)).value("id", uint64_t{0});
    } catch (const json::exception&) {
      ADD_FAILURE() << Describe(r);
      return 0;
    }
  }
  json TaskJson(uint64_t id) {
    const CommandResult r = daemon_->Taskq({"--json", "status", std::to_string(id)});
    try {
      return json::parse(FirstLine(r.out));
    } catch (const json::exception&) {
      ADD_FAILURE() << Describe(r);
      return json::object();
    }
  }
  std::string SegmentPath() const { return LocateSegment(daemon_->options()).Describe(); }

  // A root-only file with known content: what an attack would overwrite.
  std::string MakeVictim(const std::string& name) {
    const std::string path = daemon_->dir() + "/" + name;
    std::ofstream(path) << "SECRET\n";
    chmod(path.c_str(), 0600);
    return path;
  }

  std::unique_ptr<Daemon> daemon_;
  std::vector<User> users_;
  std::string group_, admins_;
  gid_t admins_gid_ = 0;
  std::vector<std::string> made_users_, made_groups_;
};

// Exit 3 and one line saying who may.
void ExpectRefusedSayingWhoMay(const CommandResult& r, const std::string& who) {
  EXPECT_EQ(r.exit_code, 3) << Describe(r);
  EXPECT_NE(r.err.find("permission denied"), std::string::npos) << Describe(r);
  EXPECT_NE(r.err.find(who), std::string::npos) << Describe(r);
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << Describe(r);
}

// ---- the boundary: members read the segment, only the daemon's user writes it ----

TEST_F(SharedService, MembersMapTheSegmentReadOnlyAndCannotWriteOrLockIt) {
  Daemon& daemon = StartDaemon();
  struct stat st {};
  ASSERT_EQ(stat(SegmentPath().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0640u);
  const std::string segment = SegmentPath();
  // 0: read-only works, read-write open and a writable mapping are refused by the kernel.
  const int result = ForkAs(alice(), [&] {
    if (open(segment.c_str(), O_RDWR) >= 0 || errno != EACCES) return 1;
    const int fd = open(segment.c_str(), O_RDONLY);
    if (fd < 0) return 2;
    if (mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0) != MAP_FAILED) return 3;
    if (mmap(nullptr, 4096, PROT_READ, MAP_SHARED, fd, 0) == MAP_FAILED) return 4;
    return 0;
  });
  EXPECT_EQ(result, 0);
  // Everything a member does still works: through the socket for changes, lock-free reads.
  const CommandResult submitted =
      TaskqAs(alice(), {"--json", "submit", "--wait", "exec", "--", "/bin/echo", "hello"});
  ASSERT_EQ(submitted.exit_code, 0) << Describe(submitted) << daemon.log();
  const uint64_t id = SubmittedId(submitted);
  EXPECT_EQ(TaskqAs(alice(), {"logs", std::to_string(id)}).out, "hello\n");
  const CommandResult listed = TaskqAs(alice(), {"list"});
  EXPECT_EQ(listed.exit_code, 0) << Describe(listed);
  EXPECT_NE(listed.out.find("succeeded"), std::string::npos) << listed.out;
  EXPECT_EQ(TaskqAs(alice(), {"status", std::to_string(id)}).exit_code, 0);
  EXPECT_EQ(TaskqAs(alice(), {"wait", std::to_string(id)}).exit_code, 0);
  EXPECT_EQ(TaskqAs(alice(), {"ping"}).exit_code, 0);
  EXPECT_EQ(TaskqAs(alice(), {"stats"}).exit_code, 0);
  EXPECT_EQ(TaskqAs(alice(), {"metrics"}).exit_code, 0);
}

// A member's submit travels as JSON text: an argument that is not UTF-8 is refused with the
// field named (not replaced, which would run another command, and not a crash).
TEST_F(SharedService, AMembersArgumentThatIsNotUtf8IsRefusedNamingIt) {
  Daemon& daemon = StartDaemon();
  const CommandResult r = TaskqAs(alice(), {"submit", "exec", "--", "/bin/echo", "caf\xe9"});
  EXPECT_EQ(r.exit_code, 2) << Describe(r);
  EXPECT_EQ(r.err.rfind("taskq: tasks[0].argv[1]: not valid UTF-8;", 0), 0u) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  const CommandResult listed = TaskqAs(alice(), {"--json", "list"});
  EXPECT_EQ(listed.out.find("echo"), std::string::npos) << "nothing was queued: " << listed.out;
  EXPECT_EQ(TaskqAs(alice(), {"ping"}).exit_code, 0) << daemon.log();
}

// Attack 1: a symlink at the next task's log path.
TEST_F(SharedService, Attack1LogSymlinkIsNeitherCreatableNorFollowed) {
  Daemon& daemon = StartDaemon();
  const std::string victim = MakeVictim("victim-log");
  const std::string link = daemon.state_dir() + "/logs/2.out";
  // A member cannot create anything in logs/ (0700, the daemon's user's).
  EXPECT_NE(RunAs(alice(), {"/bin/ln", "-s", victim, link}).exit_code, 0);
  EXPECT_NE(access(link.c_str(), F_OK), 0);
  // Even a link that got there some other way is not followed.
  ASSERT_EQ(TaskqAs(alice(), {"submit", "--wait", "exec", "--", "/bin/true"}).exit_code, 0);
  ASSERT_EQ(symlink(victim.c_str(), link.c_str()), 0);
  const CommandResult r =
      TaskqAs(alice(), {"--json", "submit", "--wait", "exec", "--", "/bin/echo", "TEXT"});
  EXPECT_EQ(SubmittedId(r), 2u) << Describe(r);
  EXPECT_EQ(ReadAll(victim), "SECRET\n");
  struct stat st {};
  ASSERT_EQ(stat(victim.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
}

// Attack 2: a symlink at effective.yaml.tmp before a reload.
TEST_F(SharedService, Attack2ReloadDoesNotWriteThroughASymlink) {
  Daemon& daemon = StartDaemon();
  const std::string victim = MakeVictim("victim-reload");
  const std::string link = daemon.state_dir() + "/effective.yaml.tmp";
  EXPECT_NE(RunAs(alice(), {"/bin/ln", "-s", victim, link}).exit_code, 0);
  ASSERT_EQ(symlink(victim.c_str(), link.c_str()), 0);
  const int reloads = daemon.CountInLog("reload");
  ASSERT_TRUE(daemon.Signal(SIGHUP));
  ASSERT_TRUE(daemon.WaitForLog("reload", reloads + 1)) << daemon.log();
  ASSERT_EQ(TaskqAs(alice(), {"ping"}).exit_code, 0);  // the reload has been handled
  EXPECT_EQ(ReadAll(victim), "SECRET\n");
  struct stat st {};
  ASSERT_EQ(stat(victim.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  EXPECT_EQ(st.st_uid, 0u);
  // A member cannot ask for a reload either.
  ExpectRefusedSayingWhoMay(TaskqAs(alice(), {"reload"}), "root");
}

// Attack 3: the io directory renamed and replaced by a symlink.
TEST_F(SharedService, Attack3IoDirectorySwapIsRefused) {
  Daemon& daemon = StartDaemon();
  const std::string io = daemon.state_dir() + "/io";
  EXPECT_NE(RunAs(alice(), {"/bin/mv", io, io + ".old"}).exit_code, 0);
  EXPECT_TRUE(std::filesystem::is_directory(io));
  // Swapped anyway (as root): io tasks refuse to go through the link.
  const std::string elsewhere = daemon.dir() + "/elsewhere";
  std::filesystem::create_directory(elsewhere);
  std::filesystem::rename(io, io + ".old");
  ASSERT_EQ(symlink(elsewhere.c_str(), io.c_str()), 0);
  const CommandResult r =
      TaskqAs(alice(), {"--json", "submit", "--wait", "io", "--path", "out.dat"});
  EXPECT_NE(r.exit_code, 0) << Describe(r);
  EXPECT_TRUE(std::filesystem::is_empty(elsewhere));
}

// Attack 4: a task's child_pid rewritten to a stranger's pid before its timeout.
TEST_F(SharedService, Attack4MembersCannotNameAPidForTheDaemonToKill) {
  Daemon& daemon = StartDaemon();
  // The stranger: a process of another user.
  const pid_t stranger = fork();
  if (stranger == 0) {
    if (setresgid(carol().gid, carol().gid, carol().gid) != 0 ||
        setresuid(carol().uid, carol().uid, carol().uid) != 0) {
      _exit(1);
    }
    execl("/bin/sleep", "sleep", "300", nullptr);
    _exit(1);
  }
  // The member cannot write the record at all: its mapping is read-only, its open refused.
  const std::string segment = SegmentPath();
  EXPECT_EQ(ForkAs(alice(), [&] { return open(segment.c_str(), O_RDWR) < 0 ? 0 : 1; }), 0);
  // A task that times out is killed by the pidfd of the process the daemon started, nothing else.
  const CommandResult r = TaskqAs(alice(), {"--json", "submit", "--wait", "exec", "--timeout",
                                            "0.5", "--", "/bin/sleep", "30"});
  EXPECT_NE(r.exit_code, 0) << Describe(r);
  EXPECT_EQ(kill(stranger, 0), 0) << "the stranger still runs";
  kill(stranger, SIGKILL);
  waitpid(stranger, nullptr, 0);
  (void)daemon;
}

// Attack 5: another directory written into the segment's state-dir field before a purge.
TEST_F(SharedService, Attack5PurgeDeletesOnlyTheConfiguredStateDirectory) {
  Daemon& daemon = StartDaemon();
  const std::string decoy = daemon.dir() + "/decoy";
  std::filesystem::create_directories(decoy + "/precious");
  ASSERT_EQ(daemon.Stop(), 0);
  const std::string segment = SegmentPath();
  EXPECT_EQ(ForkAs(alice(), [&] { return open(segment.c_str(), O_RDWR) < 0 ? 0 : 1; }), 0);
  // Even the owner's own scribble is not obeyed: purge takes the path from the configuration.
  {
    std::unique_ptr<Segment> attached;
    ASSERT_TRUE(Segment::Attach(daemon.options(), &attached).ok());
    SegmentHeader* h = attached->header();
    std::snprintf(h->state_dir, sizeof(h->state_dir), "%s", decoy.c_str());
  }
  ExpectRefusedSayingWhoMay(TaskqAs(alice(), {"purge"}), "taskqd's user");
  const CommandResult purged = daemon.Taskq({"purge"});
  EXPECT_EQ(purged.exit_code, 0) << Describe(purged);
  EXPECT_TRUE(std::filesystem::exists(decoy + "/precious"));
  EXPECT_FALSE(std::filesystem::exists(daemon.state_dir()));
}

// Attack 6: a forged submitter uid. Identity comes from SO_PEERCRED, never from a field.
TEST_F(SharedService, Attack6SubmitterIsWhoTheKernelSays) {
  Daemon& daemon = StartDaemon();
  const std::string socket_path = daemon.state_dir() + "/control.sock";
  // A raw request that claims uid 0 is refused for its unknown field.
  const int refused = ForkAs(alice(), [&] {
    const int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::snprintf(address.sun_path, sizeof(address.sun_path), "%s", socket_path.c_str());
    if (connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) return 1;
    const std::string request =
        R"({"op":"submit","uid":0,"tasks":[{"kind":"exec","argv":["/bin/true"]}]})";
    if (!WriteFrame(fd, request).ok()) return 2;
    std::string body;
    if (!ReadFrame(fd, &body).ok()) return 3;
    const json reply = json::parse(body, nullptr, false);
    return reply.is_object() && reply.value("code", 0) == 2 &&
                   reply.value("message", "").find("uid") != std::string::npos
               ? 0
               : 4;
  });
  EXPECT_EQ(refused, 0);
  // A delayed task: the uid the daemon recorded is the member's, and nothing a member can write
  // changes it before the task runs.
  const CommandResult r = TaskqAs(alice(), {"--json", "submit", "--wait", "exec", "--delay", "1s",
                                            "--", "/bin/sh", "-c", "exit 0"});
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  const json task = TaskJson(SubmittedId(r));
  EXPECT_EQ(task.value("uid", -1), static_cast<int>(alice().uid)) << task.dump();
  const CommandResult list = daemon.Taskq({"--json", "list"});
  EXPECT_EQ(list.out.find("\"uid\":0"), std::string::npos) << list.out;
}

// Attack 7: a member cannot hang the daemon: no lock to hold, and idle connections are capped.
TEST_F(SharedService, Attack7AMemberCannotHangOthers) {
  StartDaemon();
  const std::string socket_path = daemon_->state_dir() + "/control.sock";
  int ready[2];
  ASSERT_EQ(pipe(ready), 0);
  const pid_t holder = fork();
  if (holder == 0) {
    close(ready[0]);
    const User& a = alice();
    if (setgroups(a.groups.size(), a.groups.data()) != 0 || setresgid(a.gid, a.gid, a.gid) != 0 ||
        setresuid(a.uid, a.uid, a.uid) != 0) {
      _exit(1);
    }
    // 100 connections that never send a whole frame, one with half a length word.
    std::vector<int> held;
    for (int i = 0; i < 100; ++i) {
      const int fd = socket(AF_UNIX, SOCK_STREAM, 0);
      sockaddr_un address{};
      address.sun_family = AF_UNIX;
      std::snprintf(address.sun_path, sizeof(address.sun_path), "%s", socket_path.c_str());
      if (connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0) {
        held.push_back(fd);
        if (i == 0) (void)!write(fd, "\x10\x00", 2);
      }
    }
    (void)!write(ready[1], "x", 1);
    pause();
    _exit(0);
  }
  close(ready[1]);
  char x;
  ASSERT_EQ(read(ready[0], &x, 1), 1);
  close(ready[0]);
  // Others are served while the member holds its connections.
  const CommandResult ping = TaskqAs(bob(), {"ping", "--timeout", "30"});
  EXPECT_EQ(ping.exit_code, 0) << Describe(ping);
  const CommandResult r = TaskqAs(bob(), {"submit", "--wait", "exec", "--", "/bin/true"});
  EXPECT_EQ(r.exit_code, 0) << Describe(r);
  EXPECT_EQ(daemon_->Taskq({"ping", "--timeout", "30"}).exit_code, 0);
  kill(holder, SIGKILL);
  waitpid(holder, nullptr, 0);
}

// Attack 8: a squatted default directory (no XDG_RUNTIME_DIR: /tmp/taskq-<uid>).
TEST_F(SharedService, Attack8SquattedDefaultDirectoryIsRefused) {
  TempDir dir;
  chmod(dir.path().c_str(), 0755);
  const std::string config = dir.path() + "/taskq.yaml";
  std::ofstream(config) << "queue: " << UniqueQueueName() << "\nworkers: 1\n";
  chmod(config.c_str(), 0644);
  const std::string squat = "/tmp/taskq-" + std::to_string(alice().uid);
  std::filesystem::remove_all(squat);
  ASSERT_EQ(RunAs(carol(), {"/bin/mkdir", "-m", "0777", squat}).exit_code, 0);
  chmod(squat.c_str(), 0777);
  std::vector<std::string> argv = Setpriv(alice());
  argv.insert(argv.end(), {"/usr/bin/timeout", "30", TaskqdPath(), "--config", config});
  const CommandResult r = RunCommand(argv, "", {{"HOME", "/"}, {"XDG_RUNTIME_DIR", ""}});
  EXPECT_EQ(r.exit_code, 3) << Describe(r);
  EXPECT_NE(r.err.find(squat), std::string::npos) << Describe(r);
  EXPECT_NE(r.err.find("another user could replace"), std::string::npos) << Describe(r);
  EXPECT_TRUE(std::filesystem::is_empty(squat)) << "nothing was created in it";
  std::filesystem::remove_all(squat);
}

// Attack 9: members cannot shut the service down or change its groups; admins can.
TEST_F(SharedService, Attack9AdministrationIsForAdmins) {
  MakeBobAnAdmin();
  Daemon& daemon = StartDaemon("admins: " + admins_ + "\n");
  ExpectRefusedSayingWhoMay(TaskqAs(alice(), {"shutdown"}), admins_);
  ExpectRefusedSayingWhoMay(TaskqAs(alice(), {"group", "add", "mine"}), admins_);
  ExpectRefusedSayingWhoMay(TaskqAs(alice(), {"group", "pause", "default"}), admins_);
  ExpectRefusedSayingWhoMay(TaskqAs(alice(), {"doctor", "--repair"}), admins_);
  EXPECT_EQ(TaskqAs(alice(), {"ping"}).exit_code, 0) << "still running";
  EXPECT_NE(daemon.log().find("refused shutdown"), std::string::npos) << daemon.log();
  // The outsider cannot even reach the socket.
  const CommandResult outsider = TaskqAs(carol(), {"submit", "exec", "--", "/bin/true"});
  EXPECT_EQ(outsider.exit_code, 3) << Describe(outsider);
  EXPECT_NE(outsider.err.find("permission denied"), std::string::npos) << Describe(outsider);
  // The admin can.
  const CommandResult added = TaskqAs(bob(), {"group", "add", "mine"});
  EXPECT_EQ(added.exit_code, 0) << Describe(added);
  EXPECT_EQ(TaskqAs(bob(), {"group", "remove", "mine"}).exit_code, 0);
  EXPECT_EQ(TaskqAs(bob(), {"shutdown"}).exit_code, 0);
  EXPECT_EQ(daemon.WaitExit(), 0);
}

// ---- what members may do with each other's tasks ----

TEST_F(SharedService, MembersCancelAndReadOnlyTheirOwnTasks) {
  Daemon& daemon = StartDaemon();
  ASSERT_EQ(daemon.Taskq({"group", "pause", "default"}).exit_code, 0);
  const uint64_t mine =
      SubmittedId(TaskqAs(alice(), {"--json", "submit", "exec", "--", "/bin/true"}));
  const uint64_t theirs =
      SubmittedId(TaskqAs(bob(), {"--json", "submit", "exec", "--", "/bin/true"}));
  ASSERT_GT(mine, 0u);
  ASSERT_GT(theirs, 0u);
  ExpectRefusedSayingWhoMay(TaskqAs(alice(), {"cancel", std::to_string(theirs)}), "submitter");
  EXPECT_EQ(TaskqAs(alice(), {"cancel", std::to_string(mine)}).exit_code, 0);
  EXPECT_EQ(TaskJson(mine).value("state", ""), "cancelled");
  EXPECT_EQ(TaskJson(theirs).value("state", ""), "queued");
  ASSERT_EQ(daemon.Taskq({"group", "resume", "default"}).exit_code, 0);
  EXPECT_EQ(TaskqAs(bob(), {"wait", std::to_string(theirs)}).exit_code, 0);
  ExpectRefusedSayingWhoMay(TaskqAs(alice(), {"logs", std::to_string(theirs)}), "submitter");
  EXPECT_EQ(TaskqAs(bob(), {"logs", std::to_string(theirs)}).exit_code, 0);
  // Log files themselves are the daemon's user's alone.
  struct stat st {};
  ASSERT_EQ(stat((daemon.state_dir() + "/logs/" + std::to_string(theirs) + ".out").c_str(), &st),
            0);
  EXPECT_EQ(st.st_mode & 0077, 0u);
}

// Durability for members (issue 17): the daemon answers a member's `submit --sync` only once the
// journal is synced past the task, and `wait` reports a result only once it is durable; the
// journal itself is the daemon's user's alone (a member who could write it would choose what a
// reboot rebuilds).
TEST_F(SharedService, MembersSubmitDurablyAndCannotTouchTheJournal) {
  Daemon& daemon = StartDaemon("storage: file\ndurability: flush\n");
  auto journal_stats = [&] {
    return json::parse(daemon.Taskq({"--json", "stats"}).out)["journal"];
  };
  const uint64_t entries_before = journal_stats()["entries"].get<uint64_t>();
  const uint64_t id =
      SubmittedId(TaskqAs(alice(), {"--json", "submit", "--sync", "--hold", "cpu"}));
  ASSERT_GT(id, 0u);
  // Nothing else changed the queue: the held task's entry is the one after entries_before.
  EXPECT_GE(journal_stats()["synced"].get<uint64_t>(), entries_before + 1);
  const std::string journal = daemon.state_dir() + "/journal";
  struct stat st {};
  ASSERT_EQ(stat(journal.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0077, 0u);
  EXPECT_NE(RunAs(alice(), {"/bin/cat", journal}).exit_code, 0);
  EXPECT_NE(RunAs(alice(), {"/bin/sh", "-c", "echo x >> " + journal}).exit_code, 0);
  EXPECT_NE(RunAs(alice(), {"/usr/bin/touch", daemon.state_dir() + "/journal.new"}).exit_code, 0);
  ASSERT_EQ(TaskqAs(alice(), {"release", std::to_string(id)}).exit_code, 0);
  EXPECT_EQ(TaskqAs(alice(), {"wait", std::to_string(id)}).exit_code, 0);
}

// `taskq kill` is a member's for its own running tasks only; the reason names who killed it.
TEST_F(SharedService, MembersKillPauseAndRestartOnlyTheirOwnTasks) {
  Daemon& daemon = StartDaemon("kill_grace: 500ms\n");
  const uint64_t mine =
      SubmittedId(TaskqAs(alice(), {"--json", "submit", "exec", "--", "/bin/sleep", "300"}));
  ASSERT_GT(mine, 0u);
  ASSERT_TRUE(WaitUntil([&] { return TaskJson(mine).value("state", "") == "running"; }));
  ExpectRefusedSayingWhoMay(TaskqAs(bob(), {"kill", std::to_string(mine)}), "submitter");
  ExpectRefusedSayingWhoMay(TaskqAs(bob(), {"pause", std::to_string(mine)}), "submitter");
  EXPECT_EQ(TaskJson(mine).value("state", ""), "running");
  // Pause and resume are the submitter's too.
  CommandResult own = TaskqAs(alice(), {"pause", std::to_string(mine)});
  EXPECT_EQ(own.exit_code, 0) << Describe(own);
  EXPECT_EQ(TaskJson(mine).value("state", ""), "paused");
  ExpectRefusedSayingWhoMay(TaskqAs(bob(), {"resume", std::to_string(mine)}), "submitter");
  own = TaskqAs(alice(), {"resume", std::to_string(mine)});
  EXPECT_EQ(own.exit_code, 0) << Describe(own);
  EXPECT_EQ(TaskJson(mine).value("state", ""), "running");
  const CommandResult killed = TaskqAs(alice(), {"kill", std::to_string(mine)});
  EXPECT_EQ(killed.exit_code, 0) << Describe(killed);
  ASSERT_TRUE(WaitUntil([&] { return TaskJson(mine).value("state", "") == "cancelled"; }));
  EXPECT_NE(TaskJson(mine).value("reason", "").find("killed by " + alice().name + " with SIGTERM"),
            std::string::npos)
      << TaskJson(mine).dump();
  // Restart too: bob may not run alice's task again; alice may.
  ExpectRefusedSayingWhoMay(TaskqAs(bob(), {"restart", std::to_string(mine)}), "submitter");
  own = TaskqAs(alice(), {"restart", std::to_string(mine)});
  EXPECT_EQ(own.exit_code, 0) << Describe(own);
  ASSERT_TRUE(WaitUntil([&] { return TaskJson(mine).value("state", "") == "running"; }));
  EXPECT_EQ(TaskqAs(alice(), {"kill", std::to_string(mine)}).exit_code, 0);
  ASSERT_TRUE(WaitUntil([&] { return TaskJson(mine).value("state", "") == "cancelled"; }));
  (void)daemon;
}

// ---- fair sharing ----

TEST_F(SharedService, OneUsersFloodDoesNotStarveAnother) {
  Daemon& daemon = StartDaemon("policy: pool\n");
  ASSERT_EQ(daemon.Taskq({"group", "pause", "default"}).exit_code, 0);
  std::string batch;
  for (int i = 0; i < 200; ++i) batch += "cpu --count 10\n";
  const CommandResult flood = TaskqAs(alice(), {"submit", "--batch", "-"}, batch);
  ASSERT_EQ(flood.exit_code, 0) << Describe(flood);
  const uint64_t one = SubmittedId(TaskqAs(bob(), {"--json", "submit", "cpu", "--count", "10"}));
  ASSERT_EQ(daemon.Taskq({"group", "resume", "default"}).exit_code, 0);
  ASSERT_EQ(daemon.Taskq({"wait", "--all", "--timeout", "120"}).exit_code, 0);
  const uint64_t bobs_start = TaskJson(one).value("started_at", uint64_t{0});
  ASSERT_GT(bobs_start, 0u) << TaskJson(one).dump();
  const CommandResult list = daemon.Taskq({"--json", "list"});
  const json tasks = json::parse(list.out, nullptr, false);  // one array of every task
  ASSERT_TRUE(tasks.is_array()) << list.out;
  int alices = 0;
  int alice_before = 0;
  for (const json& task : tasks) {
    if (task.value("uid", -1) != static_cast<int>(alice().uid)) continue;
    ++alices;
    if (task.value("started_at", uint64_t{0}) < bobs_start) ++alice_before;
  }
  EXPECT_EQ(alices, 200) << "every one of alice's tasks is counted";
  // Round robin between users: bob's one task is the first or second to start, not the 201st.
  EXPECT_LE(alice_before, 1) << list.out;
}

TEST_F(SharedService, MaxQueuedPerUserStopsOneMemberOnly) {
  Daemon& daemon = StartDaemon("max_queued_per_user: 3\n");
  ASSERT_EQ(daemon.Taskq({"group", "pause", "default"}).exit_code, 0);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(TaskqAs(alice(), {"submit", "exec", "--", "/bin/true"}).exit_code, 0);
  }
  const CommandResult full = TaskqAs(alice(), {"submit", "exec", "--", "/bin/true"});
  EXPECT_EQ(full.exit_code, 4) << Describe(full);
  EXPECT_NE(full.err.find("max_queued_per_user"), std::string::npos) << Describe(full);
  EXPECT_EQ(TaskqAs(bob(), {"submit", "exec", "--", "/bin/true"}).exit_code, 0);
  EXPECT_EQ(daemon.Taskq({"group", "resume", "default"}).exit_code, 0);
}

// ---- a member scribbling on the control socket ----

TEST_F(SharedService, ScribbledRequestsFailOnlyForTheirSender) {
  Daemon& daemon = StartDaemon();
  const std::string socket_path = daemon.state_dir() + "/control.sock";
  const int scribbled = ForkAs(alice(), [&] {
    std::mt19937_64 random(20261204);
    for (int round = 0; round < 300; ++round) {
      const int fd = socket(AF_UNIX, SOCK_STREAM, 0);
      sockaddr_un address{};
      address.sun_family = AF_UNIX;
      std::snprintf(address.sun_path, sizeof(address.sun_path), "%s", socket_path.c_str());
      if (connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) return 1;
      std::string bytes(random() % 200, '\0');
      for (char& c : bytes) c = static_cast<char>(random());
      if (round % 3 == 0) {  // a well-formed frame around random JSON-ish bytes
        (void)WriteFrame(fd, "{\"op\":\"submit\",\"tasks\":[" + bytes + "]}");
      } else if (round % 3 == 1) {  // a huge length
        (void)!write(fd, "\xff\xff\xff\x7f", 4);
      } else {
        (void)!write(fd, bytes.data(), bytes.size());
      }
      shutdown(fd, SHUT_WR);
      char sink[256];
      while (read(fd, sink, sizeof(sink)) > 0) {
      }
      close(fd);
    }
    return 0;
  });
  EXPECT_EQ(scribbled, 0);
  EXPECT_EQ(kill(daemon.pid(), 0), 0) << daemon.log();
  EXPECT_EQ(TaskqAs(bob(), {"submit", "--wait", "exec", "--", "/bin/true"}).exit_code, 0);
  EXPECT_EQ(TaskqAs(alice(), {"submit", "--wait", "exec", "--", "/bin/true"}).exit_code, 0);
  EXPECT_EQ(daemon.Taskq({"list", "--state", "failed"}).out.find("failed"), std::string::npos);
}

// ---- run_as: submitter ----

TEST_F(SharedService, RunAsSubmitterRunsTasksWithTheSubmittersIdentity) {
  Daemon& daemon = StartDaemon("run_as: submitter\n");
  const std::string members = std::to_string(getgrnam(group_.c_str())->gr_gid);
  const CommandResult r = TaskqAs(alice(), {"--json", "submit", "--wait", "exec", "--", "/bin/sh",
                                            "-c", "id -u; id -g; id -G; echo $USER"});
  ASSERT_EQ(r.exit_code, 0) << Describe(r) << daemon.log();
  const std::string out = TaskqAs(alice(), {"logs", std::to_string(SubmittedId(r))}).out;
  std::istringstream lines(out);
  std::string uid, gid, groups, user;
  std::getline(lines, uid);
  std::getline(lines, gid);
  std::getline(lines, groups);
  std::getline(lines, user);
  EXPECT_EQ(uid, std::to_string(alice().uid)) << out;
  EXPECT_EQ(gid, std::to_string(alice().gid)) << out;
  EXPECT_NE((" " + groups + " ").find(" " + members + " "), std::string::npos) << out;
  EXPECT_EQ(user, alice().name) << out;
  // io tasks write as the submitter, in its own directory, which only it can read.
  const CommandResult io = TaskqAs(alice(), {"--json", "submit", "--wait", "io", "--bytes", "10"});
  ASSERT_EQ(io.exit_code, 0) << Describe(io) << daemon.log();
  const std::string mine = daemon.state_dir() + "/io/" + alice().name;
  const std::string file = mine + "/" + std::to_string(SubmittedId(io)) + ".dat";
  struct stat st {};
  ASSERT_EQ(stat(file.c_str(), &st), 0) << file;
  EXPECT_EQ(st.st_uid, alice().uid);
  EXPECT_EQ(st.st_size, 10);
  ASSERT_EQ(stat(mine.c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, alice().uid);
  EXPECT_EQ(st.st_mode & 07777, 0700u);
  EXPECT_EQ(RunAs(alice(), {"/bin/cat", file}).exit_code, 0);
  EXPECT_NE(RunAs(bob(), {"/bin/cat", file}).exit_code, 0);
  // A member cannot name a path outside its own directory.
  const CommandResult out_of_dir = TaskqAs(
      alice(), {"--json", "submit", "--wait", "io", "--path", "../" + bob().name + "/x.dat"});
  EXPECT_NE(out_of_dir.exit_code, 0) << Describe(out_of_dir);
  // The daemon's own user (root here) still runs as itself.
  EXPECT_EQ(daemon.Taskq({"submit", "--wait", "exec", "--", "/bin/sh", "-c", "test $(id -u) = 0"})
                .exit_code,
            0);
}

TEST_F(SharedService, RunAsSubmitterNeedsARootDaemon) {
  TempDir dir;
  chmod(dir.path().c_str(), 0755);
  const std::string config = dir.path() + "/taskq.yaml";
  std::ofstream(config) << "queue: " << UniqueQueueName() << "\nstate_dir: " << dir.path()
                        << "/state\nrun_as: submitter\n";
  chmod(config.c_str(), 0644);
  std::vector<std::string> argv = Setpriv(alice());
  argv.insert(argv.end(), {"/usr/bin/timeout", "30", TaskqdPath(), "--config", config});
  const CommandResult r = RunCommand(argv, "", {{"HOME", "/"}, {"XDG_RUNTIME_DIR", ""}});
  EXPECT_EQ(r.exit_code, 2) << Describe(r);
  EXPECT_NE(r.err.find("run_as: submitter needs taskqd to stay root"), std::string::npos)
      << Describe(r);
}

}  // namespace
}  // namespace taskq::testing
