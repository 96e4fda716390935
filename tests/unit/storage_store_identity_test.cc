// File system identities: a thread acts as a user without affecting its neighbours, and the
// store reads and writes host paths with the caller's permissions (a user commits only what they
// may read and checks out only where they may write, and owns what they check out).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <string>
#include <thread>

#include "storage/fs_identity.h"
#include "storage/store.h"
#include "tests/unit/storage_fsio_test_util.h"
#include "tests/unit/storage_store_fixture.h"

namespace paddock::storage {
namespace {

using testing::StoreTest;
using testing::WalkTree;
using testing::WriteFileMap;
using testing::WriteTestFile;

constexpr uid_t kNobody = 65534;
constexpr gid_t kNogroup = 65534;
constexpr gid_t kSharedGroup = 4242;

#define SKIP_UNLESS_ROOT()                                    \
  do {                                                        \
    if (::geteuid() != 0) {                                   \
      std::printf("SKIP: switching identities needs root\n"); \
      GTEST_SKIP() << "needs root";                           \
    }                                                         \
  } while (0)

TEST(FsIdentityTest, AppliesToTheCallingThreadOnlyAndIsRestored) {
  SKIP_UNLESS_ROOT();
  const FsIdentity before = CurrentFsIdentity();
  const FsIdentity nobody{kNobody, kNogroup, {kSharedGroup}};
  std::atomic<int> phase{0};
  FsIdentity inside, after_restore;
  std::thread worker([&] {
    ScopedFsIdentity as_nobody;
    const Status applied = as_nobody.Apply(&nobody);
    EXPECT_TRUE(applied.ok()) << applied.ToString();
    inside = CurrentFsIdentity();
    phase = 1;
    while (phase.load() != 2) std::this_thread::yield();
    as_nobody.Restore();
    after_restore = CurrentFsIdentity();
  });
  while (phase.load() != 1) std::this_thread::yield();
  const FsIdentity neighbour = CurrentFsIdentity();
  phase = 2;
  worker.join();
  EXPECT_EQ(inside, nobody);
  EXPECT_EQ(neighbour, before);
  EXPECT_EQ(after_restore, before);
}

TEST(FsIdentityTest, NullIdentityChangesNothing) {
  const FsIdentity before = CurrentFsIdentity();
  ScopedFsIdentity none;
  ASSERT_TRUE(none.Apply(nullptr).ok());
  EXPECT_EQ(CurrentFsIdentity(), before);
}

TEST(FsIdentityTest, FilesCreatedWhileAppliedBelongToTheIdentity) {
  SKIP_UNLESS_ROOT();
  TempDir tmp;
  ASSERT_EQ(::chmod(tmp.path().c_str(), 0777), 0);
  const FsIdentity nobody{kNobody, kNogroup, {}};
  {
    ScopedFsIdentity as_nobody;
    ASSERT_TRUE(as_nobody.Apply(&nobody).ok());
    UniqueFd fd(::open(tmp.Join("mine").c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
    ASSERT_TRUE(fd);
    // A root-only file is out of reach while the identity is applied.
    UniqueFd denied(::open("/etc/shadow", O_RDONLY | O_CLOEXEC));
    EXPECT_FALSE(denied);
    EXPECT_EQ(errno, EACCES);
  }
  struct stat st;
  ASSERT_EQ(::stat(tmp.Join("mine").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, kNobody);
  EXPECT_EQ(st.st_gid, kNogroup);
  UniqueFd allowed_again(::open("/etc/shadow", O_RDONLY | O_CLOEXEC));
  EXPECT_TRUE(allowed_again);
}

TEST(FsIdentityTest, AProcessWithoutPrivilegeCannotSwitchAndStaysItself) {
  SKIP_UNLESS_ROOT();
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    // Plain code: the child reports through its exit status.
    if (::setresgid(1000, 1000, 1000) != 0 || ::setresuid(1000, 1000, 1000) != 0) _exit(10);
    const FsIdentity self = CurrentFsIdentity();
    const FsIdentity other{kNobody, kNogroup, self.groups};
    ScopedFsIdentity refused;
    if (refused.Apply(&other).code() != StatusCode::kPermissionDenied) _exit(11);
    if (!(CurrentFsIdentity() == self)) _exit(12);
    ScopedFsIdentity as_self;
    if (!as_self.Apply(&self).ok()) _exit(13);
    _exit(0);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

class StoreIdentityTest : public StoreTest {
 protected:
  void SetUp() override {
    SKIP_UNLESS_ROOT();
    StoreTest::SetUp();
    // mkdtemp made it 0700: the identity must be able to reach what the tests give it.
    ASSERT_EQ(::chmod(tmp_.path().c_str(), 0755), 0);
  }

  // Every entry below `root`, and `root` itself, is owned by nobody:nogroup.
  static void ExpectOwnedByNobody(const std::string& root) {
    struct stat st;
    ASSERT_EQ(::lstat(root.c_str(), &st), 0);
    EXPECT_EQ(st.st_uid, kNobody) << root;
    for (const auto& [path, entry] : WalkTree(root)) {
      ASSERT_EQ(::lstat((root + "/" + path).c_str(), &st), 0) << path;
      EXPECT_EQ(st.st_uid, kNobody) << path;
      EXPECT_EQ(st.st_gid, kNogroup) << path;
    }
  }

  const FsIdentity nobody_{kNobody, kNogroup, {}};
};

TEST_F(StoreIdentityTest, CommitReadsAsTheIdentityAndNamesWhatItMayNotRead) {
  const std::string src = tmp_.Join("src");
  WriteFileMap(src, {{"public.txt", "for everyone"}, {"secret.key", "root only"}});
  ASSERT_EQ(::chmod((src + "/secret.key").c_str(), 0600), 0);
  for (const char* name : {"public.txt", "secret.key"}) {
    testing::SetMtimeSecondsAgo(src + "/" + name, 60);  // so a stat cache could answer
  }
  const FsIdentity before = CurrentFsIdentity();

  Result<CommitOutcome> denied = store_->CommitDirectory(Request("as nobody"), src, &nobody_);
  ASSERT_EQ(denied.status().code(), StatusCode::kPermissionDenied) << denied.status().ToString();
  EXPECT_NE(denied.status().message().find(src + "/secret.key"), std::string::npos)
      << denied.status().message();
  EXPECT_EQ(store_->Resolve(kRepo, "main").status().code(), StatusCode::kNotFound);

  // The daemon itself may read it; its stat cache must not vouch for nobody afterwards.
  ASSERT_TRUE(store_->CommitDirectory(Request("as root"), src, nullptr).ok());
  EXPECT_EQ(store_->CommitDirectory(Request("again"), src, &nobody_).status().code(),
            StatusCode::kPermissionDenied);
  EXPECT_EQ(store_->DiffDirectory(kRepo, "main", src, &nobody_).status().code(),
            StatusCode::kPermissionDenied);

  // Supplementary groups count.
  ASSERT_EQ(::chown((src + "/secret.key").c_str(), 0, kSharedGroup), 0);
  ASSERT_EQ(::chmod((src + "/secret.key").c_str(), 0640), 0);
  const FsIdentity in_group{kNobody, kNogroup, {kSharedGroup}};
  Result<CommitOutcome> allowed = store_->CommitDirectory(Request("in group"), src, &in_group);
  ASSERT_TRUE(allowed.ok()) << allowed.status().ToString();
  EXPECT_EQ(CurrentFsIdentity(), before);
}

TEST_F(StoreIdentityTest, CheckoutWritesOnlyWhereTheIdentityMayAndItOwnsTheResult) {
  CommitFiles({{"a", "1"}, {"d/b", "22"}, {"empty", ""}, {"dir/", ""}});
  const std::string root_only = tmp_.Join("root-only");
  ASSERT_TRUE(MakeDirectories(root_only, 0755).ok());
  Result<CheckoutResult> denied =
      store_->Checkout(kRepo, "main", root_only + "/co", false, &nobody_);
  ASSERT_EQ(denied.status().code(), StatusCode::kPermissionDenied) << denied.status().ToString();
  EXPECT_NE(denied.status().message().find(root_only + "/co"), std::string::npos);

  const std::string home = tmp_.Join("home");
  ASSERT_TRUE(MakeDirectories(home, 0755).ok());
  ASSERT_EQ(::chown(home.c_str(), kNobody, kNogroup), 0);
  Result<CheckoutResult> done = store_->Checkout(kRepo, "main", home + "/co", false, &nobody_);
  ASSERT_TRUE(done.ok()) << done.status().ToString();
  ExpectOwnedByNobody(home + "/co");
  EXPECT_EQ(WalkTree(home + "/co"), CheckoutAndWalk("main"));

  // A read-only view cannot hardlink the store's cache files for nobody: it gets copies it owns.
  Result<CheckoutResult> view = store_->Checkout(kRepo, "main", home + "/view", true, &nobody_);
  ASSERT_TRUE(view.ok()) << view.status().ToString();
  EXPECT_EQ(view->hardlinked, 0u);
  ExpectOwnedByNobody(home + "/view");
  struct stat st;
  ASSERT_EQ(::stat((home + "/view/d/b").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0444u);
}

}  // namespace
}  // namespace paddock::storage
