#include "base/status.h"

#include <gtest/gtest.h>

namespace paddock {
namespace {

TEST(StatusTest, DefaultIsOk) {
  Status s;
  EXPECT_TRUE(s.ok());
  EXPECT_EQ(s.ToString(), "ok");
}

TEST(StatusTest, FromErrnoMapsCommonCodes) {
  EXPECT_EQ(Status::FromErrno("write x", ENOSPC).code(), StatusCode::kResourceExhausted);
  EXPECT_EQ(Status::FromErrno("open x", EACCES).code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(Status::FromErrno("open x", ENOENT).code(), StatusCode::kNotFound);
  Status s = Status::FromErrno("read y", EIO);
  EXPECT_EQ(s.code(), StatusCode::kIoError);
  EXPECT_EQ(s.message(), "read y: Input/output error");
}

TEST(StatusTest, WithContextKeepsCodeAndPrefixesMessage) {
  Status s = Status::NotFound("no such token").WithContext("delete");
  EXPECT_EQ(s.code(), StatusCode::kNotFound);
  EXPECT_EQ(s.ToString(), "not_found: delete: no such token");
  EXPECT_TRUE(Status::Ok().WithContext("x").ok());
}

Result<int> Half(int n) {
  if (n % 2 != 0) return Status::InvalidArgument("odd");
  return n / 2;
}

Status UseHalf(int n, int* out) {
  auto r = Half(n);
  PADDOCK_RETURN_IF_ERROR(r.status());
  *out = *r;
  return Status::Ok();
}

TEST(ResultTest, CarriesValueOrStatus) {
  auto good = Half(8);
  ASSERT_TRUE(good.ok());
  EXPECT_EQ(*good, 4);
  auto bad = Half(3);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  int out = 0;
  EXPECT_FALSE(UseHalf(5, &out).ok());
  EXPECT_TRUE(UseHalf(6, &out).ok());
  EXPECT_EQ(out, 3);
}

}  // namespace
}  // namespace paddock
