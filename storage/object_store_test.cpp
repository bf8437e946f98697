#include "storage/object_store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "storage/file_store.h"

namespace synthfarm::storage {
namespace {

namespace fs = std::filesystem;

// A fresh directory "<tmp>/synthfarm-storage-XXXXXX" holding the store at "root/" and room
// beside it to check that nothing escapes. Removed by the destructor.
class FileStoreTest : public ::testing::Test {
 protected:
  FileStoreTest() {
    std::string pattern = (fs::temp_directory_path() / "synthfarm-storage-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    base_ = fs::canonical(pattern);
    root_ = base_ / "root";
    auto store = open_store("file://" + root_.string());
    if (!store) throw std::runtime_error(store.error().message);
    store_ = std::move(*store);
  }
  ~FileStoreTest() override {
    std::error_code ec;
    fs::remove_all(base_, ec);
  }

  // Every path under base_ outside the root, with its size (0 for directories).
  std::map<std::string, uintmax_t> outside_root() const {
    std::map<std::string, uintmax_t> entries;
    for (auto it = fs::recursive_directory_iterator(base_); it != fs::end(it); ++it) {
      if (it->path() == root_) {
        it.disable_recursion_pending();
        continue;
      }
      entries[it->path().string()] = it->is_regular_file() ? it->file_size() : 0;
    }
    return entries;
  }

  std::vector<std::string> keys(std::string_view prefix) const {
    auto listed = store_->list(prefix);
    EXPECT_TRUE(listed) << listed.error().message;
    std::vector<std::string> out;
    if (listed) {
      for (const ObjectInfo& info : *listed) out.push_back(info.key);
    }
    return out;
  }

  static void write_file(const fs::path& path, std::string_view bytes) {
    fs::create_directories(path.parent_path());
    std::ofstream(path, std::ios::binary) << bytes;
  }

  fs::path base_;
  fs::path root_;
  std::unique_ptr<ObjectStore> store_;
};

TEST_F(FileStoreTest, RoundTrip) {
  EXPECT_EQ(store_->uri(), "file://" + root_.string());
  ASSERT_TRUE(store_->put("samples/00000001.exr", "hello"));
  auto got = store_->get("samples/00000001.exr");
  ASSERT_TRUE(got) << got.error().message;
  EXPECT_EQ(*got, "hello");

  auto info = store_->head("samples/00000001.exr");
  ASSERT_TRUE(info);
  ASSERT_TRUE(info->has_value());
  EXPECT_EQ((*info)->key, "samples/00000001.exr");
  EXPECT_EQ((*info)->size, 5u);

  EXPECT_EQ(keys(""), std::vector<std::string>{"samples/00000001.exr"});
  ASSERT_TRUE(store_->remove("samples/00000001.exr"));
  EXPECT_EQ(store_->get("samples/00000001.exr").error().code, Error::Code::kNotFound);
  EXPECT_FALSE(store_->head("samples/00000001.exr")->has_value());
  EXPECT_TRUE(keys("").empty());
  // Idempotent: removing what is not there succeeds.
  EXPECT_TRUE(store_->remove("samples/00000001.exr"));
  EXPECT_TRUE(store_->remove("never/written"));
}

TEST_F(FileStoreTest, MissingObjects) {
  auto got = store_->get("nope");
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error().code, Error::Code::kNotFound);
  EXPECT_NE(got.error().message.find("nope"), std::string::npos);
  // A directory is not an object.
  ASSERT_TRUE(store_->put("dir/file", "x"));
  EXPECT_EQ(store_->get("dir").error().code, Error::Code::kNotFound);
  EXPECT_FALSE(store_->head("dir")->has_value());
  // A path through a file is simply absent.
  EXPECT_EQ(store_->get("dir/file/below").error().code, Error::Code::kNotFound);
}

TEST_F(FileStoreTest, BinaryDataAndEmptyObject) {
  const std::string binary("a\0b\0\0c\xff\x80", 8);
  ASSERT_TRUE(store_->put("bin", binary));
  EXPECT_EQ(*store_->get("bin"), binary);
  EXPECT_EQ((*store_->head("bin"))->size, 8u);

  std::string big(3 * 1024 * 1024 + 7, '\0');
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>(i * 31 + 7);
  ASSERT_TRUE(store_->put("big", big));
  EXPECT_EQ(*store_->get("big"), big);

  ASSERT_TRUE(store_->put("empty", ""));
  EXPECT_EQ(*store_->get("empty"), "");
  EXPECT_EQ((*store_->head("empty"))->size, 0u);
}

TEST_F(FileStoreTest, Overwrite) {
  ASSERT_TRUE(store_->put("k", "a much longer first value"));
  ASSERT_TRUE(store_->put("k", "short"));
  EXPECT_EQ(*store_->get("k"), "short");
  EXPECT_EQ(keys(""), std::vector<std::string>{"k"});
}

TEST_F(FileStoreTest, ListSortedAndByPrefix) {
  for (const char* key : {"samples/00000010.exr", "samples/00000002.exr", "manifest.json",
                          "samples/00000001.exr", "samples/sub/deep/x", "samplesheet", "a"}) {
    ASSERT_TRUE(store_->put(key, key));
  }
  EXPECT_EQ(keys(""), (std::vector<std::string>{"a", "manifest.json", "samples/00000001.exr",
                                                "samples/00000002.exr", "samples/00000010.exr",
                                                "samples/sub/deep/x", "samplesheet"}));
  EXPECT_EQ(keys("samples/"),
            (std::vector<std::string>{"samples/00000001.exr", "samples/00000002.exr",
                                      "samples/00000010.exr", "samples/sub/deep/x"}));
  EXPECT_EQ(keys("samples/0000000"),
            (std::vector<std::string>{"samples/00000001.exr", "samples/00000002.exr"}));
  EXPECT_EQ(keys("samples"), (std::vector<std::string>{
                                 "samples/00000001.exr", "samples/00000002.exr",
                                 "samples/00000010.exr", "samples/sub/deep/x", "samplesheet"}));
  EXPECT_EQ(keys("samples/sub"), std::vector<std::string>{"samples/sub/deep/x"});
  EXPECT_EQ(keys("m"), std::vector<std::string>{"manifest.json"});
  EXPECT_TRUE(keys("zzz").empty());
  EXPECT_TRUE(keys("nothing/here/").empty());

  auto listed = store_->list("manifest");
  ASSERT_TRUE(listed);
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ((*listed)[0].size, std::string("manifest.json").size());
}

TEST_F(FileStoreTest, TempFilesInvisibleAndReserved) {
  ASSERT_TRUE(store_->put("samples/1", "one"));
  write_file(root_ / "samples" / ".tmp.2.123.abc.0", "partial");
  write_file(root_ / ".tmp.top.1.2.3", "partial");
  EXPECT_EQ(keys(""), std::vector<std::string>{"samples/1"});
  EXPECT_EQ(keys("samples/"), std::vector<std::string>{"samples/1"});
  EXPECT_EQ(keys("samples/.tmp").size(), 0u);

  auto reserved = store_->put("samples/.tmp.x", "y");
  ASSERT_FALSE(reserved);
  EXPECT_EQ(reserved.error().code, Error::Code::kInvalidKey);

  // A successful put leaves no temporary file behind.
  for (const auto& entry : fs::recursive_directory_iterator(root_)) {
    if (entry.path().filename().string().starts_with(".tmp.")) {
      EXPECT_TRUE(entry.path().filename() == ".tmp.2.123.abc.0" ||
                  entry.path().filename() == ".tmp.top.1.2.3")
          << entry.path();
    }
  }
}

TEST_F(FileStoreTest, BadKeysRefusedAndNothingWrittenOutside) {
  // Something to find if a key escaped: a sibling of the root with a file in it.
  write_file(base_ / "sibling" / "x", "outside");
  const auto before = outside_root();

  const std::vector<std::string> bad = {
      "",
      "/abs",
      "/",
      "a//b",
      "a/",
      ".",
      "..",
      "../x",
      "../root/x",
      "a/../../x",
      "a/./b",
      "a\\b",
      "..\\x",
      std::string("a\0b", 3),
      "a\nb",
      "a\x1f",
      "a\x7f",
      "%2e%2e/x",
      "%2E%2e/sibling/x",
      "a%2fb",
      "a%2F..%2Fx",
      "a%5cb",
      "a/%2e",
      std::string(1025, 'k'),
  };
  for (const std::string& key : bad) {
    SCOPED_TRACE(testing::PrintToString(key));
    auto valid = validate_key(key);
    ASSERT_FALSE(valid);
    EXPECT_EQ(valid.error().code, Error::Code::kInvalidKey);
    if (key.size() < 100 &&
        key.find_first_of(std::string("\0\n\x1f\x7f\\", 5)) == std::string::npos) {
      EXPECT_NE(valid.error().message.find(key), std::string::npos) << valid.error().message;
    }

    auto put = store_->put(key, "evil");
    ASSERT_FALSE(put);
    EXPECT_EQ(put.error().code, Error::Code::kInvalidKey);
    EXPECT_EQ(store_->get(key).error().code, Error::Code::kInvalidKey);
    EXPECT_EQ(store_->head(key).error().code, Error::Code::kInvalidKey);
    EXPECT_EQ(store_->remove(key).error().code, Error::Code::kInvalidKey);
    if (!key.empty() && key != "a/") {  // "" lists everything; "a/" is a fine prefix
      EXPECT_EQ(store_->list(key).error().code, Error::Code::kInvalidKey);
    }
  }
  EXPECT_EQ(outside_root(), before);
  EXPECT_TRUE(keys("").empty());
  EXPECT_EQ(store_->list("../").error().code, Error::Code::kInvalidKey);

  // The rules name themselves.
  EXPECT_NE(validate_key("a//b").error().message.find("empty segment"), std::string::npos);
  EXPECT_NE(validate_key(std::string(1025, 'k')).error().message.find("1024"), std::string::npos);
}

TEST_F(FileStoreTest, GoodKeysAccepted) {
  for (const char* key : {"one", "a/b/c", "a.b", "..a", "a..", ".hidden", "a b", "%41", "100%",
                          "%2", "%zz", "naïve/ünïcode", "a-b_c~d"}) {
    SCOPED_TRACE(key);
    EXPECT_TRUE(validate_key(key));
    ASSERT_TRUE(store_->put(key, key)) << store_->put(key, key).error().message;
    EXPECT_EQ(*store_->get(key), key);
  }
  EXPECT_TRUE(validate_key(std::string(1024, 'k')));
}

TEST_F(FileStoreTest, SymlinkEscapeRefused) {
  write_file(base_ / "outside" / "secret", "secret");
  fs::create_directory_symlink(base_ / "outside", root_ / "link");
  fs::create_symlink(base_ / "outside" / "secret", root_ / "filelink");
  ASSERT_TRUE(store_->put("inside/real", "ok"));
  fs::create_symlink(root_ / "inside" / "real", root_ / "goodlink");
  const auto before = outside_root();

  for (const char* key : {"link/secret", "link/new", "link/a/b", "filelink"}) {
    SCOPED_TRACE(key);
    auto put = store_->put(key, "evil");
    ASSERT_FALSE(put);
    EXPECT_EQ(put.error().code, Error::Code::kInvalidKey);
    EXPECT_NE(put.error().message.find(key), std::string::npos);
    EXPECT_EQ(store_->get(key).error().code, Error::Code::kInvalidKey);
    EXPECT_EQ(store_->head(key).error().code, Error::Code::kInvalidKey);
    EXPECT_EQ(store_->remove(key).error().code, Error::Code::kInvalidKey);
  }
  EXPECT_EQ(store_->list("link/").error().code, Error::Code::kInvalidKey);
  EXPECT_EQ(outside_root(), before);
  EXPECT_TRUE(fs::exists(base_ / "outside" / "secret"));

  // list never descends through or reports links that leave the root; one inside is fine.
  EXPECT_EQ(keys(""), (std::vector<std::string>{"goodlink", "inside/real"}));
  EXPECT_EQ(*store_->get("goodlink"), "ok");
}

TEST_F(FileStoreTest, ConcurrentPutsOfOneKeyLeaveOneWholeValue) {
  constexpr int kThreads = 8;
  constexpr int kRounds = 20;
  constexpr size_t kSize = 256 * 1024;
  std::vector<std::thread> threads;
  std::vector<char> ok(kThreads, 0);  // not vector<bool>: threads write neighbouring bits
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      bool all = true;
      const std::string value(kSize, static_cast<char>('A' + t));
      for (int r = 0; r < kRounds; ++r) all = all && store_->put("shared/key", value).has_value();
      ok[t] = all;
    });
  }
  for (auto& thread : threads) thread.join();
  for (int t = 0; t < kThreads; ++t) EXPECT_TRUE(ok[t]) << "thread " << t;

  auto got = store_->get("shared/key");
  ASSERT_TRUE(got);
  ASSERT_EQ(got->size(), kSize);
  EXPECT_EQ(*got, std::string(kSize, (*got)[0]));
  EXPECT_EQ(keys(""), std::vector<std::string>{"shared/key"});
  // No temp file was left behind.
  EXPECT_EQ(std::distance(fs::directory_iterator(root_ / "shared"), fs::directory_iterator()), 1);
}

TEST_F(FileStoreTest, ConcurrentPutsOfDifferentKeys) {
  constexpr int kThreads = 8;
  constexpr int kPerThread = 50;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        const std::string key =
            "d" + std::to_string(i % 5) + "/t" + std::to_string(t) + "-" + std::to_string(i);
        EXPECT_TRUE(store_->put(key, key));
      }
    });
  }
  for (auto& thread : threads) thread.join();
  auto listed = store_->list("");
  ASSERT_TRUE(listed);
  ASSERT_EQ(listed->size(), static_cast<size_t>(kThreads * kPerThread));
  for (const ObjectInfo& info : *listed) EXPECT_EQ(*store_->get(info.key), info.key);
}

TEST_F(FileStoreTest, PutFailureIsIoAndLeavesNoTemp) {
  ASSERT_TRUE(store_->put("file", "x"));
  // "file" is a regular file, so "file/below" needs a directory that cannot exist.
  auto put = store_->put("file/below", "y");
  ASSERT_FALSE(put);
  EXPECT_EQ(put.error().code, Error::Code::kIo);
  // A directory where the object should go: the rename fails.
  ASSERT_TRUE(store_->put("dir/x", "x"));
  auto onto_dir = store_->put("dir", "y");
  ASSERT_FALSE(onto_dir);
  EXPECT_EQ(onto_dir.error().code, Error::Code::kIo);
  EXPECT_NE(onto_dir.error().message.find(root_.string()), std::string::npos);
  for (const auto& entry : fs::recursive_directory_iterator(root_)) {
    EXPECT_FALSE(entry.path().filename().string().starts_with(".tmp.")) << entry.path();
  }
}

// The commit guard is asked right before the rename: a refusal writes nothing, replaces
// nothing and leaves no temp file; the error says why.
TEST_F(FileStoreTest, CommitGuardRefusalWritesNothing) {
  ASSERT_TRUE(store_->put("samples/a.json", "old"));
  struct stat before {};
  ASSERT_EQ(::stat((root_ / "samples/a.json").c_str(), &before), 0);
  int asked = 0;
  PutOptions fenced;
  fenced.guard = [&]() -> std::optional<std::string> {
    ++asked;
    return "the lease ended";
  };
  for (const char* key : {"samples/a.json", "samples/b.json"}) {
    auto put = store_->put(key, "new", fenced);
    ASSERT_FALSE(put) << key;
    EXPECT_EQ(put.error().code, Error::Code::kFenced);
    EXPECT_NE(put.error().message.find("the lease ended"), std::string::npos) << put.error().message;
    EXPECT_NE(put.error().message.find(key), std::string::npos) << put.error().message;
  }
  EXPECT_EQ(asked, 2);
  EXPECT_EQ(*store_->get("samples/a.json"), "old");
  EXPECT_FALSE(store_->head("samples/b.json")->has_value());
  struct stat after {};
  ASSERT_EQ(::stat((root_ / "samples/a.json").c_str(), &after), 0);
  EXPECT_EQ(before.st_ino, after.st_ino) << "replaced";
  for (const auto& entry : fs::recursive_directory_iterator(root_)) {
    EXPECT_FALSE(entry.path().filename().string().starts_with(".tmp.")) << entry.path();
  }
  PutOptions open;
  open.guard = [] { return std::optional<std::string>(); };
  ASSERT_TRUE(store_->put("samples/b.json", "new", open));
  EXPECT_EQ(*store_->get("samples/b.json"), "new");
}

// A create-only put (a shard manifest, the commit marker) never replaces: the second is
// refused with kAlreadyExists and the first one's bytes and inode stay.
TEST_F(FileStoreTest, CreateOnlyPutRefusesASecondCommit) {
  PutOptions create_only;
  create_only.create_only = true;
  ASSERT_TRUE(store_->put("shards/000001.manifest.json", "first", create_only));
  struct stat before {};
  ASSERT_EQ(::stat((root_ / "shards/000001.manifest.json").c_str(), &before), 0);
  auto again = store_->put("shards/000001.manifest.json", "second", create_only);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, Error::Code::kAlreadyExists);
  EXPECT_NE(again.error().message.find("shards/000001.manifest.json"), std::string::npos) << again.error().message;
  EXPECT_EQ(*store_->get("shards/000001.manifest.json"), "first");
  struct stat after {};
  ASSERT_EQ(::stat((root_ / "shards/000001.manifest.json").c_str(), &after), 0);
  EXPECT_EQ(before.st_ino, after.st_ino);
  EXPECT_EQ(after.st_nlink, 1u) << "the temp file's name is gone";
  for (const auto& entry : fs::recursive_directory_iterator(root_)) {
    EXPECT_FALSE(entry.path().filename().string().starts_with(".tmp.")) << entry.path();
  }
  // Racing create-only puts of one key: exactly one wins.
  std::atomic<int> won{0}, refused{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      auto put = store_->put("shards/000002.manifest.json", "writer " + std::to_string(t), create_only);
      if (put) ++won;
      else if (put.error().code == Error::Code::kAlreadyExists) ++refused;
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(won, 1);
  EXPECT_EQ(refused, 7);
}

// Temp files of interrupted writes are the store's scratch: listed and removed only as
// such, and nothing else can be removed that way.
TEST_F(FileStoreTest, ScratchIsTheTempFilesOnly) {
  ASSERT_TRUE(store_->put("samples/a.json", "a"));
  write_file(root_ / "samples/.tmp.a.json.1.2.3", "partial");
  write_file(root_ / ".tmp.manifest.json.1.2.3", "partial");
  auto scratch = store_->list_scratch("");
  ASSERT_TRUE(scratch) << scratch.error().message;
  ASSERT_EQ(scratch->size(), 2u);
  EXPECT_EQ((*scratch)[0].key, ".tmp.manifest.json.1.2.3");
  EXPECT_EQ((*scratch)[1].key, "samples/.tmp.a.json.1.2.3");
  EXPECT_EQ(store_->list_scratch("samples/")->size(), 1u);
  for (const char* bad : {"samples/a.json", "../.tmp.x", "samples/../../.tmp.x", "/.tmp.x", ".tmp.x/"}) {
    auto removed = store_->remove_scratch(bad);
    ASSERT_FALSE(removed) << bad;
    EXPECT_EQ(removed.error().code, Error::Code::kInvalidKey) << bad;
  }
  EXPECT_EQ(*store_->get("samples/a.json"), "a");
  ASSERT_TRUE(store_->remove_scratch("samples/.tmp.a.json.1.2.3"));
  ASSERT_TRUE(store_->remove_scratch(".tmp.manifest.json.1.2.3"));
  EXPECT_TRUE(store_->list_scratch("")->empty());
  EXPECT_EQ(keys(""), std::vector<std::string>{"samples/a.json"});
}

TEST(Sha256Test, StandardVectors) {
  EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

TEST(CanonicalUriTest, AbsoluteAndRelativeForms) {
  const std::string cwd = fs::current_path().string();
  EXPECT_EQ(*canonical_uri("file:///data/out/job-1"), "file:///data/out/job-1");
  EXPECT_EQ(*canonical_uri("file:///data/out/job-1/"), "file:///data/out/job-1");
  EXPECT_EQ(*canonical_uri("file:///data//out/./x/../job-1//"), "file:///data/out/job-1");
  EXPECT_EQ(*canonical_uri("file:///"), "file:///");
  EXPECT_EQ(*canonical_uri("file://./rel/dir"), "file://" + cwd + "/rel/dir");
  EXPECT_EQ(*canonical_uri("file://rel/dir/"), "file://" + cwd + "/rel/dir");
  EXPECT_EQ(*canonical_uri("file://."), "file://" + cwd);
  EXPECT_EQ(*canonical_uri("s3://bucket/prefix"), "s3://bucket/prefix");
}

TEST(OpenStoreTest, BadUrisNameTheUri) {
  for (const char* uri : {"", "/tmp/plain/path", "relative/path", "file:/one/slash", "file://",
                          "s3://Bad_Bucket/prefix", "s3://bucket/../x", "http://example.com/x",
                          "://nothing"}) {
    SCOPED_TRACE(uri);
    auto store = open_store(uri);
    ASSERT_FALSE(store);
    EXPECT_EQ(store.error().code, Error::Code::kInvalidUri);
    EXPECT_NE(store.error().message.find(std::string("\"") + uri + "\""), std::string::npos)
        << store.error().message;
  }
  EXPECT_FALSE(canonical_uri(""));
  EXPECT_EQ(canonical_uri("no/scheme").error().code, Error::Code::kInvalidUri);
}

TEST(OpenStoreTest, RelativeUriOpensUnderCwdAndRootMustBeADirectory) {
  std::string pattern = (fs::temp_directory_path() / "synthfarm-cwd-XXXXXX").string();
  ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
  const fs::path dir = fs::canonical(pattern);
  const fs::path old_cwd = fs::current_path();
  fs::current_path(dir);
  auto store = open_store("file://./jobs/job-1");
  fs::current_path(old_cwd);
  ASSERT_TRUE(store) << store.error().message;
  EXPECT_EQ((*store)->uri(), "file://" + (dir / "jobs" / "job-1").string());
  ASSERT_TRUE((*store)->put("k", "v"));
  EXPECT_TRUE(fs::exists(dir / "jobs" / "job-1" / "k"));

  std::ofstream(dir / "plain") << "x";
  auto not_dir = open_store("file://" + (dir / "plain").string());
  ASSERT_FALSE(not_dir);
  EXPECT_EQ(not_dir.error().code, Error::Code::kIo);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace synthfarm::storage
