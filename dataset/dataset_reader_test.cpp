// The tar shard writer and the dataset reader on a real file store: the tar is read back
// by the system's tar (an independent reader), members by byte range, and a dropped or
// fenced tar leaves nothing visible.
#include "dataset/dataset_reader.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "dataset/tar_shard.h"
#include "jobs/object_keys.h"

namespace synthfarm::dataset {
namespace {

namespace fs = std::filesystem;

std::string run(const std::string& command) {
  std::string out;
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) return out;
  char buffer[4096];
  size_t n;
  while ((n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0) out.append(buffer, n);
  ::pclose(pipe);
  return out;
}

std::string slurp(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

class TarShardTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() / ("tar_shard_test." + std::to_string(::getpid()) + "." +
                                         ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(root_);
    auto store = storage::open_store("file://" + root_.string());
    ASSERT_TRUE(store) << store.error().message;
    store_ = std::move(*store);
  }
  void TearDown() override { fs::remove_all(root_); }

  // Three sample files of two samples, sizes chosen to need and not need padding.
  static std::vector<std::pair<std::string, std::string>> files() {
    return {{"samples/00000004.exr", std::string(1000, 'e')},
            {"samples/00000004.json", "{\"index\": 4}"},
            {"samples/00000005.exr", std::string(512, 'f')},
            {"samples/00000005.json", ""}};
  }

  jobs::ManifestEntry write_tar(const std::string& key) {
    auto tar = TarShard::open(*store_, key, {});
    EXPECT_TRUE(tar) << tar.error().message;
    for (const auto& [file, bytes] : files()) {
      auto member = (*tar)->add(jobs::tar_member_name(file), bytes);
      EXPECT_TRUE(member) << member.error().message;
    }
    auto entry = (*tar)->finish();
    EXPECT_TRUE(entry) << entry.error().message;
    return *entry;
  }

  fs::path root_;
  std::unique_ptr<storage::ObjectStore> store_;
};

TEST(TarHeaderTest, IsTheUstarHeaderTheFormatDefines) {
  const std::string h = tar_header("00000042.json", 1000);
  ASSERT_EQ(h.size(), 512u);
  EXPECT_EQ(h.substr(0, 14), std::string("00000042.json\0", 14));
  EXPECT_EQ(h.substr(100, 8), std::string("0000644\0", 8));   // mode
  EXPECT_EQ(h.substr(124, 12), std::string("00000001750\0", 12));  // 1000 in octal
  EXPECT_EQ(h.substr(136, 12), std::string("00000000000\0", 12));  // mtime 0
  EXPECT_EQ(h[156], '0');
  EXPECT_EQ(h.substr(257, 8), std::string("ustar\0" "00", 8));
  // The checksum: the unsigned byte sum with its own field read as eight spaces.
  unsigned sum = 0;
  for (size_t i = 0; i < h.size(); ++i) sum += (i >= 148 && i < 156) ? ' ' : static_cast<unsigned char>(h[i]);
  EXPECT_EQ(std::stoul(h.substr(148, 6), nullptr, 8), sum);
}

TEST_F(TarShardTest, TheSystemTarReadsEveryMemberAndTheManifestFindsThemByRange) {
  const jobs::ManifestEntry entry = write_tar("shards/000002.tar");
  const std::string tar = slurp(root_ / "shards/000002.tar");
  EXPECT_EQ(entry.size, tar.size());
  EXPECT_EQ(entry.sha256, storage::sha256_hex(tar));
  EXPECT_EQ(tar.size() % 512, 0u);
  // GNU tar lists the names in order and extracts the same bytes.
  EXPECT_EQ(run("tar -tf '" + (root_ / "shards/000002.tar").string() + "'"),
            "00000004.exr\n00000004.json\n00000005.exr\n00000005.json\n");
  const fs::path x = root_ / "x";
  fs::create_directories(x);
  ASSERT_EQ(std::system(("tar -xf '" + (root_ / "shards/000002.tar").string() + "' -C '" + x.string() + "'").c_str()), 0);
  for (const auto& [key, bytes] : files()) EXPECT_EQ(slurp(x / jobs::tar_member_name(key)), bytes) << key;

  ASSERT_EQ(entry.members.size(), 4u);
  EXPECT_EQ(entry.members[0].offset, 512u);
  EXPECT_EQ(entry.members[1].offset, 512u + 1024u + 512u);  // 1000 bytes padded to two blocks
  const auto refs = entry_files(entry);
  for (size_t i = 0; i < refs.size(); ++i) {
    EXPECT_EQ(refs[i].key, files()[i].first);
    EXPECT_TRUE(refs[i].in_tar());
    auto bytes = read_file(*store_, refs[i]);
    ASSERT_TRUE(bytes) << bytes.error();
    EXPECT_EQ(*bytes, files()[i].second);
  }
  // The same files into another tar: the same bytes (nothing of time, user or host).
  EXPECT_EQ(write_tar("shards/000003.tar").sha256, entry.sha256);
}

TEST_F(TarShardTest, ATarDroppedOrFencedBeforeItsEndLeavesNoObject) {
  {
    auto tar = TarShard::open(*store_, "shards/000000.tar", {});
    ASSERT_TRUE(tar);
    ASSERT_TRUE((*tar)->add("00000000.exr", std::string(100000, 'x')));
  }  // a worker killed mid-tar
  auto listed = store_->list("");
  ASSERT_TRUE(listed);
  EXPECT_TRUE(listed->empty()) << listed->front().key;
  EXPECT_TRUE(store_->list_scratch("")->empty()) << "the temp file is removed";

  storage::PutOptions fenced{[] { return std::optional<std::string>("the lease ended"); }, false};
  auto tar = TarShard::open(*store_, "shards/000001.tar", fenced);
  ASSERT_TRUE(tar);
  ASSERT_TRUE((*tar)->add("00000001.exr", "x"));
  auto finished = (*tar)->finish();
  ASSERT_FALSE(finished);
  EXPECT_EQ(finished.error().code, storage::Error::Code::kFenced);
  EXPECT_NE(finished.error().message.find("the lease ended"), std::string::npos) << finished.error().message;
  EXPECT_TRUE(store_->list("")->empty());
}

TEST_F(TarShardTest, AReadIsCheckedAgainstTheManifest) {
  jobs::ManifestEntry entry = write_tar("shards/000002.tar");
  auto refs = entry_files(entry);
  refs[1].sha256[0] = refs[1].sha256[0] == 'a' ? 'b' : 'a';
  auto bad = read_file(*store_, refs[1]);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error(), "samples/00000004.json (in shards/000002.tar): size or sha256 differs from its manifest");
  refs[2].offset = entry.size - 10;
  bad = read_file(*store_, refs[2]);
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().find("lie past its end"), std::string::npos) << bad.error();
}

TEST_F(TarShardTest, TheShardManifestCarriesMembersAndFindsAFile) {
  jobs::ShardManifest manifest{"job-1", 2, 4, 2, {write_tar("shards/000002.tar")}};
  const std::string json = jobs::shard_manifest_to_json(manifest);
  auto parsed = jobs::parse_shard_manifest(json);
  ASSERT_TRUE(parsed) << parsed.error();
  EXPECT_EQ(*parsed, manifest);
  ASSERT_TRUE(store_->put(jobs::shard_manifest_key(2), json));
  auto found = find_in_shard(*store_, 2, "samples/00000005.exr");
  ASSERT_TRUE(found.file) << found.error;
  EXPECT_EQ(*read_file(*store_, *found.file), std::string(512, 'f'));
  EXPECT_FALSE(find_in_shard(*store_, 2, "samples/00000006.exr").file);
  auto absent = find_in_shard(*store_, 3, "samples/00000006.exr");
  EXPECT_FALSE(absent.file);
  EXPECT_TRUE(absent.error.empty()) << "a shard not committed yet is no error";

  // A member outside its tar is refused when the manifest is read.
  std::string bad = json;
  bad.replace(bad.find("\"offset\": 512"), 13, "\"offset\": 999999");
  auto refused = jobs::parse_shard_manifest(bad);
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().find("members[0] (00000004.exr) lies outside the tar"), std::string::npos)
      << refused.error();
}

TEST_F(TarShardTest, ADatasetManifestListsTarMembersUnderTheirFileKeys) {
  const jobs::ManifestEntry tar = write_tar("shards/000002.tar");
  const std::string manifest = "{\"format\": \"synthfarm.dataset/1\", \"layout\": {\"format\": \"webdataset\"}, "
                               "\"spec\": {\"name\": \"t\"}, \"objects\": [" +
                               jobs::manifest_entry_json(tar) + "]}";
  ASSERT_TRUE(store_->put("manifest.json", manifest));
  auto dataset = Dataset::open(*store_);
  ASSERT_TRUE(dataset) << dataset.error();
  EXPECT_EQ(dataset->format(), "webdataset");
  EXPECT_EQ(dataset->spec_json(), "{\"name\":\"t\"}");
  ASSERT_EQ(dataset->files().size(), 4u);
  EXPECT_EQ(*dataset->read("samples/00000004.json"), "{\"index\": 4}");
  auto missing = dataset->read("samples/00000009.json");
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().find("samples/00000009.json: not in"), std::string::npos) << missing.error();
}

}  // namespace
}  // namespace synthfarm::dataset
