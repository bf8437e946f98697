#include "cli/subprocess.h"

#include <gtest/gtest.h>

#include <cstdlib>

namespace synthfarm::cli {
namespace {

TEST(RunProcess, CollectsBothStreamsAndTheExitCode) {
  auto r = run_process({"sh", "-c", "echo out; echo err >&2; exit 3"});
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(r->exit_code, 3);
  EXPECT_EQ(r->out, "out\n");
  EXPECT_EQ(r->err, "err\n");
}

TEST(RunProcess, ArgumentsAreNeverReparsedByAShell) {
  auto r = run_process({"printf", "%s|", "a b", "$HOME", "*", "'q'"});
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(r->out, "a b|$HOME|*|'q'|");
}

TEST(RunProcess, AMissingProgramIsAnErrorNamingIt) {
  auto r = run_process({"synthfarm-no-such-program"});
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().find("synthfarm-no-such-program"), std::string::npos) << r.error();
  EXPECT_NE(r.error().find("No such file"), std::string::npos) << r.error();
}

TEST(RunProcess, IsKilledAfterItsTimeout) {
  auto start = std::chrono::steady_clock::now();
  auto r = run_process({"sleep", "30"}, {.timeout = std::chrono::milliseconds(300)});
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().find("did not finish"), std::string::npos) << r.error();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
  // Also when it closed its output and lingers.
  auto quiet = run_process({"sh", "-c", "exec >&- 2>&-; sleep 30"},
                           {.timeout = std::chrono::milliseconds(300)});
  ASSERT_FALSE(quiet);
}

TEST(RunProcess, DropsTheNamedVariablesOnly) {
  setenv("SYNTHFARM_SUBPROCESS_SECRET", "s3cret", 1);
  setenv("SYNTHFARM_SUBPROCESS_KEPT", "kept", 1);
  auto r = run_process(
      {"sh", "-c", "echo \"[$SYNTHFARM_SUBPROCESS_SECRET][$SYNTHFARM_SUBPROCESS_KEPT]\""},
      {.drop_env = {"SYNTHFARM_SUBPROCESS_SECRET"}});
  unsetenv("SYNTHFARM_SUBPROCESS_SECRET");
  unsetenv("SYNTHFARM_SUBPROCESS_KEPT");
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(r->out, "[][kept]\n");
}

TEST(DescribeCommand, QuotesWhatAShellWouldSplit) {
  EXPECT_EQ(describe_command({"sbatch", "--array=0-3", "--job-name=w", "/opt/w.sbatch"}),
            "sbatch --array=0-3 --job-name=w /opt/w.sbatch");
  EXPECT_EQ(describe_command({"scancel", "it's", "a b", ""}), "scancel 'it'\\''s' 'a b' ''");
}

}  // namespace
}  // namespace synthfarm::cli
