#include "lib/files/file_contents.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <atomic>
#include <filesystem>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "tests/process_temp_dir.h"

namespace fer {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

// A fresh, empty folder for one test.
std::string NewFolder(const std::string& name) {
  const std::string dir = testing::ProcessTempDir() + name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

std::set<std::string> FolderEntries(const std::string& dir) {
  std::set<std::string> names;
  for (const auto& entry : fs::directory_iterator(dir)) {
    names.insert(entry.path().filename().string());
  }
  return names;
}

// Every byte value, longer than one read's buffer.
std::string BinaryBytes(size_t size) {
  std::string bytes(size, '\0');
  for (size_t i = 0; i < size; ++i) bytes[i] = static_cast<char>((i * 7919) % 256);
  return bytes;
}

TEST(FileContentsTest, WritesAndReadsBackEveryByte) {
  const std::string dir = NewFolder("round_trip");
  const std::string path = dir + "/blob.bin";
  const std::string bytes = BinaryBytes(200000);
  ASSERT_TRUE(WriteFileAtomically(path, bytes).ok());
  absl::StatusOr<std::string> read = ReadFileContents(path);
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(*read, bytes);

  ASSERT_TRUE(WriteFileAtomically(path, "").ok());
  EXPECT_EQ(ReadFileContents(path).value_or("?"), "");
  EXPECT_THAT(FolderEntries(dir), ::testing::ElementsAre("blob.bin"));
}

TEST(FileContentsTest, ReadsFilesWhoseSizeIsNotKnownAhead) {
  // /proc files report a size of 0 and still have content.
  absl::StatusOr<std::string> status = ReadFileContents("/proc/self/status");
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_THAT(*status, HasSubstr("Pid:"));
}

TEST(FileContentsTest, ReadingAMissingFileIsNotFoundWithThePathAndReason) {
  const std::string path = NewFolder("missing") + "/nothing.txt";
  const absl::Status status = ReadFileContents(path).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(status.message(), "cannot read " + path + ": No such file or directory");
  EXPECT_EQ(ReadFileContents(path, "the model config").status().message(),
            "cannot read the model config " + path + ": No such file or directory");
}

TEST(FileContentsTest, ReadingAFolderIsRefused) {
  const std::string dir = NewFolder("a_folder");
  const absl::Status status = ReadFileContents(dir).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(status.message(), "cannot read " + dir + ": is a directory");
}

TEST(FileContentsTest, ReplacesAnExistingFileWhole) {
  const std::string dir = NewFolder("replace");
  const std::string path = dir + "/config.json";
  ASSERT_TRUE(WriteFileAtomically(path, "first version, the longer one").ok());
  ASSERT_TRUE(WriteFileAtomically(path, "second").ok());
  EXPECT_EQ(ReadFileContents(path).value_or(""), "second");
  EXPECT_THAT(FolderEntries(dir), ::testing::ElementsAre("config.json"));
}

TEST(FileContentsTest, WritesAPathRelativeToTheWorkingFolder) {
  const std::string dir = NewFolder("relative");
  const fs::path previous = fs::current_path();
  fs::current_path(dir);
  const absl::Status written = WriteFileAtomically("plain.txt", "here");
  fs::current_path(previous);
  ASSERT_TRUE(written.ok()) << written;
  EXPECT_EQ(ReadFileContents(dir + "/plain.txt").value_or(""), "here");
  EXPECT_THAT(FolderEntries(dir), ::testing::ElementsAre("plain.txt"));
}

TEST(FileContentsTest, NewFilesFollowTheUmask) {
  const std::string dir = NewFolder("umask");
  const mode_t previous = ::umask(027);
  const absl::Status written = WriteFileAtomically(dir + "/f", "x");
  ::umask(previous);
  ASSERT_TRUE(written.ok()) << written;
  EXPECT_EQ(fs::status(dir + "/f").permissions(),
            fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read);
}

TEST(FileContentsTest, WritingIntoAMissingFolderIsNotFound) {
  const std::string dir = NewFolder("no_parent");
  const std::string path = dir + "/absent/file.bin";
  const absl::Status status = WriteFileAtomically(path, "x");
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(status.message(), "cannot write " + path + ": No such file or directory");
  EXPECT_TRUE(FolderEntries(dir).empty());
}

TEST(FileContentsTest, OnlyRegularFilesAreReplaced) {
  const std::string dir = NewFolder("not_regular");
  const std::string folder = dir + "/target";
  fs::create_directories(folder);
  ASSERT_TRUE(WriteFileAtomically(folder + "/kept", "kept").ok());
  const absl::Status status = WriteFileAtomically(folder, "new");
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(status.message(), "cannot write " + folder + ": not a regular file");
  EXPECT_EQ(ReadFileContents(folder + "/kept").value_or(""), "kept");

  // A link to a device is neither followed nor replaced.
  const std::string link = dir + "/out";
  fs::create_symlink("/dev/null", link);
  EXPECT_EQ(WriteFileAtomically(link, "new").code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(fs::is_symlink(link));
  EXPECT_THAT(FolderEntries(dir), ::testing::ElementsAre("out", "target"));
}

TEST(FileContentsTest, AWriteThatRunsOutOfRoomKeepsTheOldFile) {
  // A file size limit makes write(2) fail part-way with EFBIG, as a full disk
  // fails it with ENOSPC.
  const std::string dir = NewFolder("no_room");
  const std::string path = dir + "/profile.bin";
  ASSERT_TRUE(WriteFileAtomically(path, "old contents").ok());
  rlimit previous;
  ASSERT_EQ(::getrlimit(RLIMIT_FSIZE, &previous), 0);
  rlimit small = previous;
  small.rlim_cur = 4096;
  const sighandler_t previous_handler = ::signal(SIGXFSZ, SIG_IGN);
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &small), 0);
  const absl::Status status = WriteFileAtomically(path, BinaryBytes(10000));
  ::setrlimit(RLIMIT_FSIZE, &previous);
  ::signal(SIGXFSZ, previous_handler);
  EXPECT_EQ(status.code(), absl::StatusCode::kOutOfRange) << status;
  EXPECT_EQ(status.message(), "cannot write " + path + ": File too large");
  EXPECT_EQ(ReadFileContents(path).value_or(""), "old contents");
  EXPECT_THAT(FolderEntries(dir), ::testing::ElementsAre("profile.bin"));
}

TEST(FileContentsTest, ReadersSeeOneWholeVersionWhileWritersReplaceIt) {
  const std::string dir = NewFolder("concurrent");
  const std::string path = dir + "/shared.bin";
  std::vector<std::string> versions;
  for (int v = 0; v < 4; ++v) versions.push_back(std::string(50000 + 1000 * v, 'a' + v));
  ASSERT_TRUE(WriteFileAtomically(path, versions[0]).ok());

  std::atomic<int> failed_writes{0};
  std::vector<std::thread> writers;
  for (int v = 0; v < 4; ++v) {
    writers.emplace_back([&, v] {
      for (int i = 0; i < 25; ++i) {
        if (!WriteFileAtomically(path, versions[v]).ok()) ++failed_writes;
      }
    });
  }
  int torn_reads = 0;
  for (int i = 0; i < 200; ++i) {
    const std::string read = ReadFileContents(path).value_or("unreadable");
    if (std::find(versions.begin(), versions.end(), read) == versions.end()) ++torn_reads;
  }
  for (std::thread& t : writers) t.join();
  EXPECT_EQ(failed_writes.load(), 0);
  EXPECT_EQ(torn_reads, 0);
  EXPECT_THAT(FolderEntries(dir), ::testing::ElementsAre("shared.bin"));
}

}  // namespace
}  // namespace fer
