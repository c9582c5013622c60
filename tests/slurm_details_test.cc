// Where `taskq status` finds a Slurm task's job state and node (common/slurm_details.h): the
// task's own file (`mode: job`), else the one line its pilot wrote to <state_dir>/slurm/pilot-nodes
// (`mode: pilot` writes no file per task).
#include "common/slurm_details.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <string>

namespace taskq {
namespace {

class SlurmDetailsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = ::testing::TempDir() + "taskq-slurm-details-XXXXXX";
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string dir_;
};

TEST_F(SlurmDetailsTest, TheTasksOwnFileComesFirst) {
  ASSERT_TRUE(WriteSlurmDetails(dir_, 7, SlurmDetails{12, "PENDING", "BeginTime", ""}).ok());
  ASSERT_TRUE(AppendPilotNode(dir_, 12, 1, "n1").ok());
  SlurmDetails found;
  ASSERT_TRUE(FindSlurmDetails(dir_, 7, 12, &found));
  EXPECT_EQ(found, (SlurmDetails{12, "PENDING", "BeginTime", ""}));
}

TEST_F(SlurmDetailsTest, APilotsTaskIsFoundThroughItsJob) {
  ASSERT_TRUE(AppendPilotNode(dir_, 12, 1, "n1").ok());
  ASSERT_TRUE(AppendPilotNode(dir_, 13, 2, "n2").ok());
  ASSERT_TRUE(AppendPilotNode(dir_, 12, 1, "n3").ok());  // moved: the last line wins
  SlurmDetails found;
  ASSERT_TRUE(FindSlurmDetails(dir_, 7, 13, &found));
  EXPECT_EQ(found, (SlurmDetails{13, "LEASED", "pilot 2", "n2"}));
  ASSERT_TRUE(FindSlurmDetails(dir_, 8, 12, &found));
  EXPECT_EQ(found, (SlurmDetails{12, "LEASED", "pilot 1", "n3"}));
  EXPECT_EQ(std::filesystem::status(dir_ + "/slurm/pilot-nodes").permissions() &
                std::filesystem::perms::all,
            std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
}

// A listing of many pilot tasks reads the pilots' file once: the finder still answers after the
// file is gone, and a task's own file is still read each time.
TEST_F(SlurmDetailsTest, AFinderReadsThePilotsFileOnce) {
  ASSERT_TRUE(AppendPilotNode(dir_, 12, 1, "n1").ok());
  ASSERT_TRUE(AppendPilotNode(dir_, 13, 2, "n2").ok());
  SlurmDetailsFinder finder;
  SlurmDetails found;
  ASSERT_TRUE(finder.Find(dir_, 7, 12, &found));
  std::filesystem::remove(dir_ + "/slurm/pilot-nodes");
  ASSERT_TRUE(finder.Find(dir_, 8, 13, &found));
  EXPECT_EQ(found, (SlurmDetails{13, "LEASED", "pilot 2", "n2"}));
  ASSERT_TRUE(WriteSlurmDetails(dir_, 9, SlurmDetails{13, "WAITING", "no pilot", ""}).ok());
  ASSERT_TRUE(finder.Find(dir_, 9, 13, &found));
  EXPECT_EQ(found.state, "WAITING");
  EXPECT_FALSE(FindSlurmDetails(dir_, 8, 13, &found));  // a new finder reads the file again
}

// A node name is a pilot's word, cut at 64 bytes: half a UTF-8 sequence is written replaced.
TEST_F(SlurmDetailsTest, ANodeCutInsideAUtf8SequenceIsStillWritten) {
  ASSERT_TRUE(AppendPilotNode(dir_, 12, 1, "n\xc3").ok());
  SlurmDetails found;
  ASSERT_TRUE(FindSlurmDetails(dir_, 7, 12, &found));
  EXPECT_EQ(found.node, "n\xef\xbf\xbd");  // U+FFFD
}

TEST_F(SlurmDetailsTest, UnknownJobsAndDamagedLinesFindNothing) {
  SlurmDetails found;
  EXPECT_FALSE(FindSlurmDetails(dir_, 7, 12, &found));  // no file at all
  std::filesystem::create_directories(dir_ + "/slurm");
  std::ofstream(dir_ + "/slurm/pilot-nodes")
      << "not json\n{\"job_id\":\"12\"}\n{\"job_id\":5,\"pilot\":1,\"node\":7}\n";
  EXPECT_FALSE(FindSlurmDetails(dir_, 7, 12, &found));
  EXPECT_FALSE(FindSlurmDetails(dir_, 7, 0, &found));  // no job id: nothing to look for
  ASSERT_TRUE(FindSlurmDetails(dir_, 7, 5, &found));   // a node that is not text: shown empty
  EXPECT_EQ(found, (SlurmDetails{5, "LEASED", "pilot 1", ""}));
}

}  // namespace
}  // namespace taskq
