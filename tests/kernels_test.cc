// common/kernels.h: the cpu kernel is a pure function of (count, seed); the io kernel writes
// exactly the bytes asked for, in block-sized writes, honours fsync, and reports every failure
// as a Status naming the path (it never throws).
#include "common/kernels.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "tests/test_util.h"

namespace taskq::testing {
namespace {

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// write(2) calls made by this thread so far, from /proc (task I/O accounting); -1 when the
// kernel does not provide it.
long long WriteSyscalls() {
  std::ifstream in("/proc/thread-self/io");
  std::string key;
  long long value;
  while (in >> key >> value) {
    if (key == "syscw:") return value;
  }
  return -1;
}

TEST(CpuKernel, IsDeterministicForASeed) {
  CpuResult a = RunCpuKernel(10000, 42);
  CpuResult b = RunCpuKernel(10000, 42);
  EXPECT_EQ(a.checksum, b.checksum);
  EXPECT_EQ(a.count, b.count);
}

TEST(CpuKernel, HonoursTheCount) {
  for (uint64_t count : {0ull, 1ull, 2ull, 1000ull, 123457ull}) {
    EXPECT_EQ(RunCpuKernel(count, 1).count, count);
  }
  // An empty list folds to the FNV-1a offset basis; one more number changes the checksum.
  EXPECT_EQ(RunCpuKernel(0, 1).checksum, 0xcbf29ce484222325ull);
  EXPECT_NE(RunCpuKernel(1000, 1).checksum, RunCpuKernel(1001, 1).checksum);
  // A longer run starts with the same numbers: checksums of prefixes differ from each other.
  std::set<uint64_t> prefixes;
  for (uint64_t count = 0; count < 50; ++count) prefixes.insert(RunCpuKernel(count, 3).checksum);
  EXPECT_EQ(prefixes.size(), 50u);
}

TEST(CpuKernel, DifferentSeedsDiffer) {
  std::set<uint64_t> checksums;
  for (uint64_t seed = 0; seed < 200; ++seed) checksums.insert(RunCpuKernel(100, seed).checksum);
  EXPECT_EQ(checksums.size(), 200u);
  EXPECT_NE(RunCpuKernel(100, 0).checksum, RunCpuKernel(100, UINT64_MAX).checksum);
}

// `taskq kill` of an in-process task: the kernel asks its stop check now and then and ends early
// when told; a check that never says stop changes nothing.
TEST(CpuKernel, AStopCheckEndsItEarly) {
  int calls = 0;
  const CpuResult stopped = RunCpuKernel(1u << 20, 1, [&] { return ++calls == 2; });
  EXPECT_TRUE(stopped.stopped);
  EXPECT_EQ(calls, 2);
  EXPECT_LT(stopped.count, 1u << 20);
  const CpuResult whole = RunCpuKernel(1u << 17, 1, [] { return false; });
  EXPECT_FALSE(whole.stopped);
  EXPECT_EQ(whole.checksum, RunCpuKernel(1u << 17, 1).checksum);
}

class IoKernel : public ::testing::Test {
 protected:
  std::string Path(const std::string& name) const { return dir_.path() + "/" + name; }
  TempDir dir_;
};

TEST_F(IoKernel, WritesExactlyTheBytesAsked) {
  for (uint64_t bytes : {0ull, 1ull, 4095ull, 4096ull, 4097ull, 100000ull, (3ull << 20) + 5}) {
    const std::string path = Path("out-" + std::to_string(bytes));
    uint64_t written = 12345;
    Status s = RunIoKernel("", path, bytes, 4096, false, &written);
    ASSERT_TRUE(s.ok()) << s.message();
    EXPECT_EQ(written, bytes);
    const std::string content = ReadFile(path);
    EXPECT_EQ(content.size(), bytes);
    EXPECT_EQ(content.find_first_not_of('x'), std::string::npos);
    struct stat st {};
    ASSERT_EQ(stat(path.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 0600u);
  }
}

TEST_F(IoKernel, AStopCheckEndsItBetweenBlocks) {
  int blocks = 0;
  uint64_t written = 0;
  const Status s =
      RunIoKernel("", Path("stopped"), 100000, 1000, false, &written, [&] { return ++blocks > 3; });
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.message(), "stopped after 3000 of 100000 bytes");
  EXPECT_EQ(written, 3000u);
}

TEST_F(IoKernel, TruncatesAnExistingFile) {
  const std::string path = Path("existing");
  std::ofstream(path) << std::string(50000, 'a');
  uint64_t written = 0;
  ASSERT_TRUE(RunIoKernel("", path, 10, 4096, false, &written).ok());
  EXPECT_EQ(ReadFile(path), std::string(10, 'x'));
}

TEST_F(IoKernel, WritesInBlocks) {
  if (WriteSyscalls() < 0) GTEST_SKIP() << "no /proc/thread-self/io syscw on this kernel";
  struct Case {
    uint64_t bytes, block, writes;
  };
  // Blocks above 1 MiB are written 1 MiB at a time.
  for (Case c : {Case{10000, 4096, 3}, Case{8192, 4096, 2}, Case{5, 4096, 1}, Case{1000, 1, 1000},
                 Case{0, 4096, 0}, Case{3 << 20, 4 << 20, 3}}) {
    const std::string path = Path("blocks");
    uint64_t written = 0;
    const long long before = WriteSyscalls();
    Status s = RunIoKernel("", path, c.bytes, c.block, false, &written);
    const long long after = WriteSyscalls();
    ASSERT_TRUE(s.ok()) << s.message();
    EXPECT_EQ(written, c.bytes);
    EXPECT_EQ(after - before, static_cast<long long>(c.writes))
        << c.bytes << " bytes in blocks of " << c.block;
  }
}

TEST_F(IoKernel, FsyncFlagIsHonoured) {
  uint64_t written = 0;
  Status s = RunIoKernel("", Path("synced"), 10000, 4096, true, &written);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(written, 10000u);
  // /dev/null accepts writes but not fsync (EINVAL): the flag decides whether the run fails.
  EXPECT_TRUE(RunIoKernel("", "/dev/null", 100, 10, false, &written).ok());
  s = RunIoKernel("", "/dev/null", 100, 10, true, &written);
  EXPECT_EQ(s.code(), StatusCode::kFailed);
  EXPECT_EQ(written, 100u);
  EXPECT_NE(s.message().find("fsync of /dev/null failed"), std::string::npos) << s.message();
}

TEST_F(IoKernel, ReportsErrorsWithoutThrowing) {
  uint64_t written = 99;
  Status s;
  EXPECT_NO_THROW(s = RunIoKernel("", Path("no/such/dir/file"), 10, 4096, false, &written));
  EXPECT_EQ(s.code(), StatusCode::kFailed);
  EXPECT_EQ(written, 0u);
  EXPECT_NE(s.message().find("cannot create " + Path("no/such/dir/file")), std::string::npos)
      << s.message();
  EXPECT_NE(s.message().find("No such file or directory"), std::string::npos) << s.message();

  EXPECT_NO_THROW(s = RunIoKernel("", dir_.path(), 10, 4096, false, &written));
  EXPECT_EQ(s.code(), StatusCode::kFailed);
  EXPECT_NE(s.message().find("Is a directory"), std::string::npos) << s.message();

  // A full device: the write error names the path and how far it got.
  EXPECT_NO_THROW(s = RunIoKernel("", "/dev/full", 10, 4096, false, &written));
  EXPECT_EQ(s.code(), StatusCode::kFailed);
  EXPECT_NE(s.message().find("write to /dev/full failed after 0 bytes"), std::string::npos)
      << s.message();

  EXPECT_NO_THROW(s = RunIoKernel("", Path("zero-block"), 10, 0, false, &written));
  EXPECT_EQ(s.code(), StatusCode::kInvalid);
  EXPECT_FALSE(std::filesystem::exists(Path("zero-block")));
}

TEST_F(IoKernel, RefusesASymlinkAsTheLastComponent) {
  const std::string target = Path("target");
  std::ofstream(target) << "keep me";
  std::filesystem::create_symlink(target, Path("link"));
  uint64_t written = 0;
  Status s = RunIoKernel("", Path("link"), 10, 4096, false, &written);
  EXPECT_EQ(s.code(), StatusCode::kFailed);
  EXPECT_NE(s.message().find("cannot create " + Path("link")), std::string::npos) << s.message();
  EXPECT_EQ(ReadFile(target), "keep me");
}

}  // namespace
}  // namespace taskq::testing
