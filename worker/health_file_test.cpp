#include "worker/health_file.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace synthfarm::worker {
namespace {

namespace fs = std::filesystem;

class HealthFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "health_file_test.XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
  }
  void TearDown() override { fs::remove_all(dir_); }

  static std::string read(const fs::path& path) {
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  }
  // Every entry of the directory, hidden temporary files included.
  std::vector<std::string> entries() const {
    std::vector<std::string> names;
    for (const auto& entry : fs::directory_iterator(dir_))
      names.push_back(entry.path().filename().string());
    return names;
  }

  fs::path dir_;
};

TEST_F(HealthFileTest, CreateWritesTheFileAndLeavesNoTemporaryFile) {
  auto file = HealthFile::create(dir_ / "worker.alive", "starting\n");
  ASSERT_TRUE(file) << file.error();
  EXPECT_EQ(read(dir_ / "worker.alive"), "starting\n");
  EXPECT_EQ(entries(), std::vector<std::string>{"worker.alive"});
}

TEST_F(HealthFileTest, RefreshReplacesTheTextAndTheModificationTime) {
  const fs::path path = dir_ / "worker.alive";
  auto file = HealthFile::create(path, "starting\n");
  ASSERT_TRUE(file) << file.error();
  // As if the last refresh were an hour ago: a probe would call it stale.
  const auto an_hour_ago = fs::file_time_type::clock::now() - std::chrono::hours(1);
  fs::last_write_time(path, an_hour_ago);

  ASSERT_TRUE((*file)->refresh("healthy\n"));
  EXPECT_EQ(read(path), "healthy\n");
  EXPECT_GT(fs::last_write_time(path), an_hour_ago + std::chrono::minutes(59));
  EXPECT_EQ(entries(), std::vector<std::string>{"worker.alive"});
}

TEST_F(HealthFileTest, RefreshBringsBackAFileSomeoneRemoved) {
  const fs::path path = dir_ / "worker.alive";
  auto file = HealthFile::create(path, "starting\n");
  ASSERT_TRUE(file) << file.error();
  fs::remove(path);
  ASSERT_TRUE((*file)->refresh("healthy\n"));
  EXPECT_EQ(read(path), "healthy\n");
}

TEST_F(HealthFileTest, DestructionRemovesTheFile) {
  const fs::path path = dir_ / "worker.alive";
  {
    auto file = HealthFile::create(path, "starting\n");
    ASSERT_TRUE(file) << file.error();
    ASSERT_TRUE(fs::exists(path));
  }
  EXPECT_FALSE(fs::exists(path));
  EXPECT_TRUE(entries().empty());
}

TEST_F(HealthFileTest, AMissingDirectoryIsAnErrorNamingThePath) {
  auto file = HealthFile::create(dir_ / "no-such-dir" / "worker.alive", "starting\n");
  ASSERT_FALSE(file);
  EXPECT_NE(file.error().find("no-such-dir"), std::string::npos) << file.error();
  EXPECT_NE(file.error().find("No such file or directory"), std::string::npos) << file.error();
}

TEST_F(HealthFileTest, AFailedCreateLeavesWhatWasAtThePathAlone) {
  // A directory where the file should go: the rename fails, and the directory stays.
  fs::create_directory(dir_ / "worker.alive");
  auto file = HealthFile::create(dir_ / "worker.alive", "starting\n");
  ASSERT_FALSE(file);
  EXPECT_TRUE(fs::is_directory(dir_ / "worker.alive"));
  EXPECT_EQ(entries(), std::vector<std::string>{"worker.alive"});
}

TEST_F(HealthFileTest, ADirectoryPathIsRefused) {
  auto file = HealthFile::create(dir_.string() + "/", "starting\n");
  ASSERT_FALSE(file);
  EXPECT_NE(file.error().find("not a file path"), std::string::npos) << file.error();
}

}  // namespace
}  // namespace synthfarm::worker
