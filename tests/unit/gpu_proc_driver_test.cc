#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "gpu/proc_driver.h"
#include "temp_dir.h"

namespace paddock::gpu {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Pair;

// Writes <root>/<relative> with its parent directories.
void WriteFile(const TempDir& root, const std::string& relative, const std::string& contents) {
  const std::filesystem::path path = root.Join(relative);
  std::filesystem::create_directories(path.parent_path());
  std::ofstream(path) << contents;
}

// The layout of the 5xx drivers' information file (tabs and all).
std::string Information(const std::string& model, const std::string& uuid, const std::string& bus,
                        const std::string& minor) {
  return "Model: \t\t " + model + "\nIRQ:   \t\t 312\nGPU UUID: \t " + uuid +
         "\nVideo BIOS: \t 96.00.89.00.01\nBus Type: \t PCIe\nDMA Size: \t 52 bits\n"
         "DMA Mask: \t 0xfffffffffffff\nBus Location: \t " +
         bus + "\nDevice Minor: \t " + minor + "\nGPU Excluded:\t No\n";
}

TEST(ProcDriverGpusTest, NoDriverIsAnEmptyList) {
  TempDir root;
  Result<std::vector<ProcDriverGpu>> gpus = ReadProcDriverGpus(root.path());
  ASSERT_TRUE(gpus.ok()) << gpus.status().ToString();
  EXPECT_THAT(*gpus, IsEmpty());
}

TEST(ProcDriverGpusTest, ReadsEveryGpuInPciOrder) {
  TempDir root;
  WriteFile(root, "driver/nvidia/gpus/0000:b1:00.0/information",
            Information("NVIDIA H100 80GB HBM3", "GPU-8c9f4a55-3b1c-2d7e-9a0f-1e2d3c4b5a69",
                        "0000:b1:00.0", "1"));
  WriteFile(root, "driver/nvidia/gpus/0000:4f:00.0/information",
            Information("NVIDIA H100 80GB HBM3", "GPU-0a1b2c3d-4e5f-6071-8293-a4b5c6d7e8f9",
                        "0000:4f:00.0", "0"));
  WriteFile(root, "driver/nvidia/gpus/stray-file", "not a GPU directory\n");
  Result<std::vector<ProcDriverGpu>> gpus = ReadProcDriverGpus(root.path());
  ASSERT_TRUE(gpus.ok()) << gpus.status().ToString();
  ASSERT_EQ(gpus->size(), 2u);
  const ProcDriverGpu& first = (*gpus)[0];
  EXPECT_EQ(first.pci.ToString(), "0000:4f:00.0");
  EXPECT_EQ(first.model, "NVIDIA H100 80GB HBM3");
  EXPECT_EQ(first.uuid, "GPU-0a1b2c3d-4e5f-6071-8293-a4b5c6d7e8f9");
  EXPECT_EQ(first.minor, 0);
  EXPECT_EQ((*gpus)[1].pci.ToString(), "0000:b1:00.0");
  EXPECT_EQ((*gpus)[1].minor, 1);
}

TEST(ProcDriverGpusTest, UninitialisedUuidIsUnknown) {
  TempDir root;
  // "GPU-????????-????-????-????-????????????", spelled out to stay clear of trigraphs.
  const std::string q4(4, '?');
  const std::string unknown =
      "GPU-" + q4 + q4 + "-" + q4 + "-" + q4 + "-" + q4 + "-" + q4 + q4 + q4;
  WriteFile(root, "driver/nvidia/gpus/0000:07:00.0/information",
            Information("NVIDIA A100-SXM4-40GB", unknown, "0000:07:00.0", "3"));
  Result<std::vector<ProcDriverGpu>> gpus = ReadProcDriverGpus(root.path());
  ASSERT_TRUE(gpus.ok()) << gpus.status().ToString();
  ASSERT_EQ(gpus->size(), 1u);
  EXPECT_EQ((*gpus)[0].uuid, "");
  EXPECT_EQ((*gpus)[0].minor, 3);
}

TEST(ProcDriverGpusTest, BusIdFromDirectoryWhenNoBusLocation) {
  TempDir root;
  WriteFile(root, "driver/nvidia/gpus/0000:3b:00.0/information", "Model: \t\t Tesla V100\n");
  Result<std::vector<ProcDriverGpu>> gpus = ReadProcDriverGpus(root.path());
  ASSERT_TRUE(gpus.ok()) << gpus.status().ToString();
  ASSERT_EQ(gpus->size(), 1u);
  EXPECT_EQ((*gpus)[0].pci.ToString(), "0000:3b:00.0");
  EXPECT_EQ((*gpus)[0].model, "Tesla V100");
  EXPECT_EQ((*gpus)[0].minor, -1);
  EXPECT_EQ((*gpus)[0].uuid, "");
}

TEST(ProcDriverGpusTest, MalformedEntriesNameTheFile) {
  TempDir root;
  WriteFile(root, "driver/nvidia/gpus/0000:3b:00.0/information",
            Information("Tesla V100", "GPU-x", "0000:3b:00.0", "zero"));
  Result<std::vector<ProcDriverGpu>> gpus = ReadProcDriverGpus(root.path());
  ASSERT_FALSE(gpus.ok());
  EXPECT_THAT(gpus.status().message(), HasSubstr("0000:3b:00.0/information"));

  TempDir root2;
  WriteFile(root2, "driver/nvidia/gpus/gpu0/information", "Model: \t\t Tesla V100\n");
  gpus = ReadProcDriverGpus(root2.path());
  ASSERT_FALSE(gpus.ok());
  EXPECT_THAT(gpus.status().message(), HasSubstr("gpu0/information"));

  TempDir root3;  // a GPU directory without its information file
  std::filesystem::create_directories(root3.Join("driver/nvidia/gpus/0000:3b:00.0"));
  EXPECT_FALSE(ReadProcDriverGpus(root3.path()).ok());
}

TEST(MigMinorsTest, NoFileIsAnEmptyMap) {
  TempDir root;
  Result<std::map<std::string, int>> minors = ReadMigMinors(root.path());
  ASSERT_TRUE(minors.ok()) << minors.status().ToString();
  EXPECT_THAT(*minors, IsEmpty());
}

TEST(MigMinorsTest, ParsesTheDriversTable) {
  TempDir root;
  WriteFile(root, "driver/nvidia-caps/mig-minors",
            "config 1\nmonitor 2\ngpu0/gi0/access 3\ngpu0/gi0/ci0/access 4\ngpu0/gi1/access 12\n"
            "gpu0/gi1/ci0/access 13\ngpu0/gi1/ci1/access 14\ngpu1/gi1/access 147\n"
            "gpu1/gi1/ci0/access 148\n\n");
  Result<std::map<std::string, int>> minors = ReadMigMinors(root.path());
  ASSERT_TRUE(minors.ok()) << minors.status().ToString();
  EXPECT_EQ(minors->size(), 9u);
  EXPECT_THAT(*minors, testing::Contains(Pair("config", 1)));
  EXPECT_THAT(*minors, testing::Contains(Pair("gpu0/gi1/ci0/access", 13)));

  EXPECT_THAT(MigCapMinors(*minors, 0, 1, 0), ElementsAre(12, 13));
  EXPECT_THAT(MigCapMinors(*minors, 0, 1, 1), ElementsAre(12, 14));
  EXPECT_THAT(MigCapMinors(*minors, 1, 1, 0), ElementsAre(147, 148));
  EXPECT_THAT(MigCapMinors(*minors, 0, 0, 0), ElementsAre(3, 4));
  // Missing compute instance, missing GPU instance, other GPU: nothing, not half.
  EXPECT_THAT(MigCapMinors(*minors, 0, 1, 2), IsEmpty());
  EXPECT_THAT(MigCapMinors(*minors, 0, 5, 0), IsEmpty());
  EXPECT_THAT(MigCapMinors(*minors, 2, 1, 0), IsEmpty());
}

TEST(MigMinorsTest, MalformedLineIsAnError) {
  TempDir root;
  WriteFile(root, "driver/nvidia-caps/mig-minors", "config 1\ngpu0/gi1/access twelve\n");
  Result<std::map<std::string, int>> minors = ReadMigMinors(root.path());
  ASSERT_FALSE(minors.ok());
  EXPECT_EQ(minors.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(minors.status().message(), HasSubstr("mig-minors"));
  EXPECT_THAT(minors.status().message(), HasSubstr("twelve"));
}

}  // namespace
}  // namespace paddock::gpu
