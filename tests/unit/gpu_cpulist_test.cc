#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "gpu/cpulist.h"

namespace paddock::gpu {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

TEST(FormatCpulistTest, JoinsRunsAndSingles) {
  EXPECT_EQ(FormatCpulist({}), "");
  EXPECT_EQ(FormatCpulist({5}), "5");
  EXPECT_EQ(FormatCpulist({0, 1}), "0-1");
  EXPECT_EQ(FormatCpulist({0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23}), "0-7,16-23");
  EXPECT_EQ(FormatCpulist({0, 2, 4, 6}), "0,2,4,6");
  EXPECT_EQ(FormatCpulist({0, 1, 2, 8, 10, 11}), "0-2,8,10-11");
}

TEST(FormatCpulistTest, SortsDeduplicatesAndDropsNegatives) {
  EXPECT_EQ(FormatCpulist({3, 1, 2, 2, 1, -1, 9}), "1-3,9");
}

TEST(ParseCpulistTest, ParsesKernelForms) {
  EXPECT_THAT(*ParseCpulist("0-3,8,10-11\n"), ElementsAre(0, 1, 2, 3, 8, 10, 11));
  EXPECT_THAT(*ParseCpulist("7"), ElementsAre(7));
  EXPECT_THAT(*ParseCpulist(" 4-4 "), ElementsAre(4));
  EXPECT_THAT(*ParseCpulist("3,1-2,2"), ElementsAre(1, 2, 3));
  EXPECT_THAT(*ParseCpulist(""), IsEmpty());
  EXPECT_THAT(*ParseCpulist("\n"), IsEmpty());
}

TEST(ParseCpulistTest, RejectsMalformedLists) {
  for (const char* bad :
       {"a", "1-", "-1", "3-1", "1,,2", "1,", ",1", "0-3:2/4", "+1", "1 2", "0-99999999", "1.5"}) {
    Result<std::vector<int>> parsed = ParseCpulist(bad);
    EXPECT_FALSE(parsed.ok()) << bad;
    EXPECT_EQ(parsed.status().code(), StatusCode::kInvalidArgument) << bad;
  }
}

TEST(CpulistTest, RoundTrips) {
  for (const char* list :
       {"", "0", "0-1", "0-7,16-23", "0,2,4,6,8,10,12,14,16,18,20,22", "1,3-5,80-81,88-89,1023"}) {
    Result<std::vector<int>> ids = ParseCpulist(list);
    ASSERT_TRUE(ids.ok()) << list << ": " << ids.status().ToString();
    EXPECT_EQ(FormatCpulist(*ids), list);
  }
}

}  // namespace
}  // namespace paddock::gpu
