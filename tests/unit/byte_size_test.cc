#include "base/byte_size.h"

#include <gtest/gtest.h>

namespace paddock {
namespace {

TEST(ByteSizeTest, ParsesPlainNumbersAndBinarySuffixesInAnySpelling) {
  EXPECT_EQ(ParseByteSize("1048576").value(), 1048576u);
  EXPECT_EQ(ParseByteSize("512K").value(), 512u * 1024);
  EXPECT_EQ(ParseByteSize("10G").value(), 10ull << 30);
  EXPECT_EQ(ParseByteSize("10g").value(), 10ull << 30);
  EXPECT_EQ(ParseByteSize("10GB").value(), 10ull << 30);
  EXPECT_EQ(ParseByteSize("10GiB").value(), 10ull << 30);
  EXPECT_EQ(ParseByteSize("1.5M").value(), 1536u * 1024);
  EXPECT_EQ(ParseByteSize("2T").value(), 2ull << 40);
}

TEST(ByteSizeTest, RejectsWhatIsNotASize) {
  for (const char* bad : {"", "G", "-1G", "0", "10X", "10 G", "1.2.3G", "10GG", "99999E"}) {
    auto r = ParseByteSize(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << bad;
  }
}

TEST(ByteSizeTest, FormatReadsBackTheSameNumber) {
  EXPECT_EQ(FormatByteSize(10ull << 30), "10G");
  EXPECT_EQ(FormatByteSize(1536), "1536");
  EXPECT_EQ(FormatByteSize(81920ull << 20), "80G");
  for (uint64_t v : {1ull, 1023ull, 1024ull, 4096ull, 5ull << 40, 12345678ull}) {
    EXPECT_EQ(ParseByteSize(FormatByteSize(v)).value(), v);
  }
}

}  // namespace
}  // namespace paddock
