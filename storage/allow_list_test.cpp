#include "storage/allow_list.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

namespace synthfarm::storage {
namespace {

namespace fs = std::filesystem;

TEST(AllowList, WholeSegmentsAndSchemes) {
  auto list = AllowList::parse({"file:///srv/out", "s3://data/sets/"});
  ASSERT_TRUE(list) << list.error().message;
  EXPECT_EQ(list->check("file:///srv/out"), std::nullopt);
  EXPECT_EQ(list->check("file:///srv/out/job-1"), std::nullopt);
  EXPECT_EQ(list->check("file:///srv/out/"), std::nullopt);
  EXPECT_NE(list->check("file:///srv/outside"), std::nullopt);
  EXPECT_NE(list->check("file:///srv"), std::nullopt);
  EXPECT_EQ(list->check("s3://data/sets/a/b.bvh"), std::nullopt);
  EXPECT_NE(list->check("s3://data/setsx/a"), std::nullopt);
  EXPECT_NE(list->check("s3://other/sets/a"), std::nullopt);
  EXPECT_NE(list->check("file:///data/sets/a"), std::nullopt) << "schemes differ";
  auto why = list->check("file:///etc/passwd");
  ASSERT_TRUE(why.has_value());
  EXPECT_NE(
      why->find(
          "file:///etc/passwd is outside the allowed storage (file:///srv/out, s3://data/sets)"),
      std::string::npos)
      << *why;
}

TEST(AllowList, DotDotAndSymlinksCannotLeave) {
  auto dir = fs::temp_directory_path() / ("allow-list-" + std::to_string(::getpid()));
  fs::create_directories(dir / "out");
  fs::create_directories(dir / "secret");
  fs::create_symlink(dir / "secret", dir / "out" / "link");
  auto list = AllowList::parse({"file://" + (dir / "out").string()});
  ASSERT_TRUE(list);
  EXPECT_EQ(list->check("file://" + (dir / "out" / "a" / "b").string()), std::nullopt);
  auto dotdot = list->check("file://" + (dir / "out" / ".." / "secret").string());
  ASSERT_TRUE(dotdot.has_value());
  EXPECT_NE(dotdot->find("that is file://" + (dir / "secret").string()), std::string::npos)
      << *dotdot;
  EXPECT_NE(list->check("file://" + (dir / "out" / "link" / "key").string()), std::nullopt)
      << "a symlink out";
  EXPECT_NE(list->check("relative/path"), std::nullopt);
  fs::remove_all(dir);
}

TEST(AllowList, EverythingAndNothing) {
  EXPECT_EQ(AllowList::everything().check("file:///etc"), std::nullopt);
  auto none = AllowList::parse({});
  ASSERT_TRUE(none);
  auto why = none->check("s3://a/b");
  ASSERT_TRUE(why.has_value());
  EXPECT_NE(why->find("(nothing)"), std::string::npos) << *why;
  EXPECT_FALSE(AllowList::parse({"no-scheme"}));
}

}  // namespace
}  // namespace synthfarm::storage
