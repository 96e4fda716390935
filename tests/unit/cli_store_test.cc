// The CLI's side of the versioned store: REPO@REF, --range, --metadata and the diff argument are
// read as the help says, and the API's JSON reads as git users expect (log, show, ls, diff, refs,
// commit, merge, gc, fsck).
#include <gtest/gtest.h>

#include <sstream>
#include <string>
#include <vector>

#include "cli/output.h"
#include "cli/store_format.h"

namespace paddock::cli {
namespace {

const std::string kId1 = "3fa94c1b2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a";
const std::string kId2 = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

std::vector<std::string> SplitLines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

bool Contains(const std::string& text, const std::string& needle) {
  return text.find(needle) != std::string::npos;
}

// The message of a failed parse, "" when it succeeded (which no expectation below matches).
std::string ParseError(std::string_view text, RevisionUse use) {
  Result<RepoRef> parsed = ParseRepoRef(text, use);
  return parsed.ok() ? "" : parsed.status().message();
}

Json Commit(const std::string& id, std::vector<std::string> parents, const std::string& message) {
  return {{"id", id},           {"tree", kId2},       {"parents", parents},
          {"author", "alice"},  {"message", message}, {"time", "2026-11-03T12:34:56.789Z"},
          {"metadata", nullptr}};
}

// --- REPO@REF ------------------------------------------------------------------------------------

TEST(ParseRepoRefTest, SplitsAtTheFirstAt) {
  const RepoRef ref = ParseRepoRef("data@main", RevisionUse::kRequired).value();
  EXPECT_EQ(ref.repo, "data");
  EXPECT_EQ(ref.rev, "main");
  // Branch names may hold an '@'; repository names cannot.
  EXPECT_EQ(ParseRepoRef("data@feature@2", RevisionUse::kRequired).value().rev, "feature@2");
}

TEST(ParseRepoRefTest, AcceptsGitSuffixesAndCommitIds) {
  for (const char* rev : {"main~2", "main^", "main^^", "v1.0^2", "3fa94c~2^2", "main~", "main~0",
                          "feature/x~10", "3fa94c1b2d3e"}) {
    EXPECT_EQ(ParseRepoRef(std::string("data@") + rev, RevisionUse::kRequired).value().rev, rev)
        << rev;
  }
}

TEST(ParseRepoRefTest, RefusesBadSuffixes) {
  EXPECT_TRUE(Contains(ParseError("data@main~x", RevisionUse::kRequired), "~N or ^N"));
  EXPECT_TRUE(Contains(ParseError("data@main^a", RevisionUse::kRequired), "~N or ^N"));
  EXPECT_TRUE(Contains(ParseError("data@~2", RevisionUse::kRequired), "before ~ or ^"));
  EXPECT_TRUE(Contains(ParseError("data@ma in", RevisionUse::kRequired), "space"));
}

TEST(ParseRepoRefTest, RevisionOptionalOrRequiredOrForbidden) {
  EXPECT_EQ(ParseRepoRef("data", RevisionUse::kOptional).value().rev, "");
  EXPECT_EQ(ParseRepoRef("data", RevisionUse::kOptionalBranch).value().rev, "");
  EXPECT_EQ(ParseRepoRef("data", RevisionUse::kNone).value().repo, "data");
  EXPECT_TRUE(Contains(ParseError("data", RevisionUse::kRequired), "data@main"));
  EXPECT_TRUE(Contains(ParseError("data", RevisionUse::kRequiredBranch), "branch"));
  EXPECT_TRUE(Contains(ParseError("data@main", RevisionUse::kNone), "without '@'"));
  EXPECT_TRUE(Contains(ParseError("data@", RevisionUse::kOptional), "nothing after '@'"));
}

TEST(ParseRepoRefTest, BranchesTakeNoSuffixes) {
  EXPECT_EQ(ParseRepoRef("data@dev", RevisionUse::kRequiredBranch).value().rev, "dev");
  EXPECT_TRUE(Contains(ParseError("data@main~1", RevisionUse::kOptionalBranch), "not a revision"));
  EXPECT_TRUE(Contains(ParseError("data@main^", RevisionUse::kRequiredBranch), "not a revision"));
}

TEST(ParseRepoRefTest, RepositoryNames) {
  EXPECT_TRUE(ParseRepoRef("a.b_c-1", RevisionUse::kNone).ok());
  EXPECT_TRUE(Contains(ParseError("", RevisionUse::kNone), "empty"));
  EXPECT_TRUE(Contains(ParseError("@main", RevisionUse::kRequired), "empty"));
  EXPECT_TRUE(Contains(ParseError(".hidden", RevisionUse::kNone), "not starting"));
  EXPECT_TRUE(Contains(ParseError("-x", RevisionUse::kNone), "not starting"));
  EXPECT_TRUE(Contains(ParseError("a/b", RevisionUse::kNone), "[A-Za-z0-9._-]"));
  EXPECT_TRUE(Contains(ParseError(std::string(101, 'a'), RevisionUse::kNone), "100"));
  EXPECT_TRUE(ParseRepoRef(std::string(100, 'a'), RevisionUse::kNone).ok());
}

TEST(CheckRefNameTest, ReservedCharacters) {
  EXPECT_TRUE(CheckRefName("feature/x").ok());
  EXPECT_TRUE(CheckRefName("v1.0").ok());
  for (const char* bad : {"a~b", "a^b", "a:b", "a?b", "a*b", "a[b", "a\\b", "a b", "a\tb", ""}) {
    EXPECT_FALSE(CheckRefName(bad).ok()) << bad;
  }
}

// --- other arguments -----------------------------------------------------------------------------

TEST(ParseByteRangeTest, ClosedAndOpenRanges) {
  const ByteRange closed = ParseByteRange("10-19").value();
  EXPECT_EQ(closed.first, 10u);
  EXPECT_EQ(closed.last, 19u);
  EXPECT_EQ(RangeHeader(closed), "Range: bytes=10-19");
  const ByteRange open = ParseByteRange("5-").value();
  EXPECT_EQ(open.first, 5u);
  EXPECT_FALSE(open.last.has_value());
  EXPECT_EQ(RangeHeader(open), "Range: bytes=5-");
  EXPECT_EQ(RangeHeader(ParseByteRange("0-0").value()), "Range: bytes=0-0");
}

TEST(ParseByteRangeTest, RefusesWhatIsNotARange) {
  for (const char* bad : {"", "10", "-5", "a-b", "5-a", "1.5-2", "9-3", "1-2-3", " 1-2"}) {
    EXPECT_FALSE(ParseByteRange(bad).ok()) << bad;
  }
  EXPECT_TRUE(Contains(ParseByteRange("9-3").status().message(), "before the start"));
}

TEST(ParseMetadataTest, ObjectsOnly) {
  EXPECT_EQ(ParseMetadata(R"({"sandbox": "sb-1", "n": 2})").value()["n"], 2);
  EXPECT_TRUE(Contains(ParseMetadata("[1]").status().message(), "object"));
  EXPECT_TRUE(Contains(ParseMetadata("{nope").status().message(), "JSON"));
}

TEST(NamesDirectoryTest, SlashOrNoAtMeansDirectory) {
  EXPECT_TRUE(NamesDirectory("work"));
  EXPECT_TRUE(NamesDirectory("/tmp/x"));
  EXPECT_TRUE(NamesDirectory("./a@b"));
  EXPECT_FALSE(NamesDirectory("data@main"));
  EXPECT_FALSE(NamesDirectory("data@main~1"));
}

// --- output --------------------------------------------------------------------------------------

TEST(FormatCommitTimeTest, MillisecondsAndRfc3339) {
  EXPECT_EQ(FormatCommitTime(Json(int64_t{0})), "1970-01-01 00:00:00 UTC");
  EXPECT_EQ(FormatCommitTime(Json(int64_t{1700000000123})), "2023-11-14 22:13:20 UTC");
  EXPECT_EQ(FormatCommitTime(Json("2026-11-03T12:34:56.789Z")), "2026-11-03 12:34:56 UTC");
  EXPECT_EQ(FormatCommitTime(Json("2026-11-03T12:34:56+02:00")), "2026-11-03 12:34:56 +02:00");
  EXPECT_EQ(FormatCommitTime(Json("yesterday")), "yesterday");
  EXPECT_EQ(FormatCommitTime(Json(nullptr)), "-");
}

TEST(FormatLogTest, NewestFirstWithShortIdsAuthorDateAndMessage) {
  const Json body = {
      {"commits", {Commit(kId1, {kId2}, "second\n\nbody line"), Commit(kId2, {}, "first")}}};
  const std::vector<std::string> lines = SplitLines(FormatLog(body, false));
  const std::vector<std::string> expected = {"commit 3fa94c1b2d3e",
                                             "Author: alice",
                                             "Date:   2026-11-03 12:34:56 UTC",
                                             "",
                                             "    second",
                                             "",
                                             "    body line",
                                             "",
                                             "commit 0123456789ab",
                                             "Author: alice",
                                             "Date:   2026-11-03 12:34:56 UTC",
                                             "",
                                             "    first"};
  EXPECT_EQ(lines, expected);
}

TEST(FormatLogTest, MergesListTheirParentsAndOnelineIsOneLine) {
  const Json body = {{"commits", {Commit(kId1, {kId2, kId1}, "merge dev\nmore")}}};
  EXPECT_TRUE(Contains(FormatLog(body, false), "Merge: 0123456789ab 3fa94c1b2d3e\n"));
  EXPECT_EQ(FormatLog(body, true), "3fa94c1b2d3e merge dev\n");
  EXPECT_EQ(FormatLog({{"commits", Json::array()}}, false), "");
}

TEST(FormatCommitTest, HeaderTreeParentsAndMetadata) {
  Json commit = Commit(kId1, {kId2}, "msg");
  commit["metadata"] = {{"sandbox", "sb-1"}};
  const std::string text = FormatCommit(commit);
  EXPECT_TRUE(Contains(text, "commit 3fa94c1b2d3e\n"));
  EXPECT_TRUE(Contains(text, "Tree:   " + kId2 + "\n"));
  EXPECT_TRUE(Contains(text, "Parent: " + kId2 + "\n"));
  EXPECT_TRUE(Contains(text, R"(Metadata: {"sandbox":"sb-1"})"));
  EXPECT_FALSE(Contains(FormatCommit(Commit(kId1, {}, "root")), "Metadata"));
}

TEST(FormatTreeTest, LikeLsLong) {
  const Json body = {
      {"entries",
       {{{"path", "a.txt"}, {"kind", "file"}, {"size", 5}, {"id", kId1}, {"target", nullptr}},
        {{"path", "run.sh"}, {"kind", "executable"}, {"size", 1234}, {"id", kId2}},
        {{"path", "sub"}, {"kind", "directory"}, {"size", 0}, {"id", kId2}},
        {{"path", "link"}, {"kind", "symlink"}, {"size", 0}, {"target", "a.txt"}}}}};
  const std::vector<std::string> expected = {"-rw-r--r--     5  a.txt", "-rwxr-xr-x  1234  run.sh",
                                             "drwxr-xr-x     -  sub",
                                             "lrwxrwxrwx     5  link -> a.txt"};
  EXPECT_EQ(SplitLines(FormatTree(body)), expected);
}

TEST(FormatChangesTest, OneLetterPerKind) {
  const Json body = {{"changes",
                      {{{"kind", "added"}, {"path", "new.txt"}},
                       {{"kind", "modified"}, {"path", "a.txt"}},
                       {{"kind", "deleted"}, {"path", "gone.txt"}},
                       {{"kind", "renamed"}, {"path", "b.txt"}, {"old_path", "old.txt"}},
                       {{"kind", "type_changed"}, {"path", "x"}}}}};
  const std::vector<std::string> expected = {"A new.txt", "M a.txt", "D gone.txt",
                                             "R old.txt -> b.txt", "T x"};
  EXPECT_EQ(SplitLines(FormatChanges(body)), expected);
}

TEST(FormatRefsTest, NameAndShortCommit) {
  const Json body = {
      {"branches",
       {{{"name", "main"}, {"commit", kId1}}, {{"name", "feature/long"}, {"commit", kId2}}}}};
  const std::vector<std::string> expected = {"main          3fa94c1b2d3e",
                                             "feature/long  0123456789ab"};
  EXPECT_EQ(SplitLines(FormatRefs(body, "branches")), expected);
  EXPECT_EQ(FormatRefs({{"tags", Json::array()}}, "tags"), "");
}

TEST(FormatRepoListTest, Table) {
  const Json body = {{"repos",
                      {{{"name", "data"},
                        {"created_at", "2026-11-03T12:00:00.000Z"},
                        {"branches", {"dev", "main"}},
                        {"tags", 2}}}}};
  const std::vector<std::string> lines = SplitLines(FormatRepoList(body));
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0], "NAME  BRANCHES  TAGS  CREATED");
  EXPECT_EQ(lines[1], "data  dev,main  2     2026-11-03T12:00:00.000Z");
}

TEST(FormatCommitOutcomeTest, NewCommitAndNothingChanged) {
  Json body = {{"commit", Commit(kId1, {}, "add data\nbody")},
               {"changed", true},
               {"files", 3},
               {"bytes", 2048},
               {"bytes_stored", 1024}};
  EXPECT_EQ(FormatCommitOutcome(body, "dev"),
            "[dev 3fa94c1b2d3e] add data\n 3 files, 2K (1K new in the store)\n");
  body["changed"] = false;
  EXPECT_EQ(FormatCommitOutcome(body, ""),
            "[main 3fa94c1b2d3e] nothing changed; the branch stays where it was\n");
  // A revert answers the commit alone.
  EXPECT_EQ(FormatCommitOutcome({{"commit", Commit(kId2, {kId1}, "Revert x")}}, "main"),
            "[main 0123456789ab] Revert x\n");
}

TEST(FormatMergeOutcomeTest, ThreeOutcomes) {
  Json body = {{"commit", Commit(kId1, {}, "m")}, {"fast_forward", true}, {"up_to_date", false}};
  EXPECT_EQ(FormatMergeOutcome(body, "main"), "fast-forwarded main to 3fa94c1b2d3e\n");
  body["fast_forward"] = false;
  EXPECT_EQ(FormatMergeOutcome(body, "main"), "merged into main: 3fa94c1b2d3e\n");
  body["up_to_date"] = true;
  EXPECT_EQ(FormatMergeOutcome(body, "main"), "main is already up to date\n");
}

TEST(FormatConflictsTest, OneLinePerPath) {
  const Json problem = {{"type", "merge-conflict"},
                        {"conflicts",
                         {{{"path", "a.txt"}, {"kind", "both_modified"}},
                          {{"path", "b/c"}, {"kind", "modify_delete"}}}}};
  EXPECT_EQ(FormatConflicts(problem),
            "CONFLICT (both_modified): a.txt\nCONFLICT (modify_delete): b/c\n");
  EXPECT_EQ(FormatConflicts({{"title", "Conflict"}}), "");
}

TEST(FormatGcReportTest, ReclaimedAndLive) {
  const Json report = {{"objects_live", 10},     {"bytes_live", 4096},
                       {"objects_reclaimed", 3}, {"bytes_reclaimed", 3 * 1024 * 1024},
                       {"packs_deleted", 1},     {"packs_rewritten", 0},
                       {"packs_created", 0}};
  const std::string text = FormatGcReport(report, false);
  EXPECT_TRUE(Contains(text, "reclaimed 3M (3 objects)\n")) << text;
  EXPECT_TRUE(Contains(text, "live: 4K (10 objects)\n")) << text;
  EXPECT_TRUE(Contains(text, "packs: 1 deleted, 0 rewritten, 0 created\n")) << text;
  EXPECT_TRUE(FormatGcReport(report, true).starts_with("would reclaim 3M"));
}

TEST(FormatFsckReportTest, OkAndDamaged) {
  Json report = {{"ok", true},
                 {"objects", 12},
                 {"packs", 2},
                 {"commits_reachable", 3},
                 {"problems", Json::array()}};
  EXPECT_FALSE(FsckFoundDamage(report));
  EXPECT_EQ(FormatFsckReport(report),
            "store ok: 12 objects in 2 packs checked, 3 commits reachable\n");

  report["ok"] = false;
  report["problems"] = {{{"kind", "corrupt"},
                         {"type", "chunk"},
                         {"id", kId1},
                         {"pack", "pack-1.pack"},
                         {"offset", 42},
                         {"detail", "hash mismatch"},
                         {"paths", {"commit 3fa94c1b2d3e: data/x.csv"}},
                         {"more_paths", true}},
                        {{"kind", "damaged pack"},
                         {"type", ""},
                         {"id", nullptr},
                         {"pack", "pack-2.pack"},
                         {"offset", 0},
                         {"detail", "truncated index"},
                         {"paths", Json::array()}}};
  EXPECT_TRUE(FsckFoundDamage(report));
  const std::vector<std::string> expected = {
      "store damaged: 2 problems",
      "corrupt chunk " + kId1 + " in pack pack-1.pack at offset 42: hash mismatch",
      "  used by commit 3fa94c1b2d3e: data/x.csv", "  (and more)",
      "damaged pack pack-2.pack: truncated index"};
  EXPECT_EQ(SplitLines(FormatFsckReport(report)), expected);
}

TEST(FsckFoundDamageTest, ProblemsCountEvenWithoutOk) {
  EXPECT_TRUE(FsckFoundDamage({{"problems", {"something"}}}));
  EXPECT_TRUE(FsckFoundDamage({{"ok", false}}));
  EXPECT_FALSE(FsckFoundDamage(Json::object()));
}

}  // namespace
}  // namespace paddock::cli
