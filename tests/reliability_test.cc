// The `vpr` binary against faults: kills injected at every rename (strace), hostile
// inputs, outputs that must not be replaced, files of two runs that must not mix.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <limits>
#include <regex>

#include "vpr/synthetic/synthetic.h"
#include "vpr/model/model_io.h"
#include "vpr/test_config.h"
#include "vpr/util/atomic_file.h"
#include "vpr/util/npy.h"

namespace vpr {
namespace {
namespace fs = std::filesystem;

struct Outcome {
  int code = -1;       // exit code; 137 when killed
  std::string output;  // stdout and stderr together
};

Outcome Shell(const std::string& cmd) {
  Outcome r;
  FILE* pipe = popen((cmd + " 2>&1").c_str(), "r");
  std::array<char, 4096> buf;
  while (size_t n = fread(buf.data(), 1, buf.size(), pipe)) r.output.append(buf.data(), n);
  const int status = pclose(pipe);
  r.code = WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
  return r;
}

// vpr under /usr/bin/time; PeakRssMb reads the peak resident memory it reports.
std::string Measured(const std::string& args) {
  return "/usr/bin/time -f 'maxrss_kb=%M' " + std::string(VPR_BINARY_DIR) + "/vpr " + args;
}

int64_t PeakRssMb(const Outcome& r) {
  std::smatch m;
  if (!std::regex_search(r.output, m, std::regex("maxrss_kb=(\\d+)"))) return -1;
  return std::stoll(m[1].str()) / 1024;
}

std::string Vpr() { return std::string(VPR_BINARY_DIR) + "/vpr"; }

// vpr killed (SIGKILL) at its n-th call of `syscall` (strace counts each syscall apart).
Outcome VprKilledAtRename(const std::string& args, int n, const std::string& syscall = "rename") {
  return Shell("strace -f -qq -o /dev/null -e trace=" + syscall + " -e inject=" + syscall +
               ":signal=SIGKILL:when=" + std::to_string(n) + " " + Vpr() + " " + args);
}

// strace installed and allowed to trace here (ptrace may be forbidden in a container).
bool HaveStrace() {
  static const bool ok = Shell("strace -f -qq -o /dev/null true").code == 0;
  return ok;
}

// One folder per test process: ctest runs the tests of this file in parallel.
fs::path ProcessDir() {
  static const fs::path dir = fs::temp_directory_path() / ("vpr_reliability_" + std::to_string(::getpid()));
  return dir;
}

class RemoveProcessDir : public ::testing::Environment {
 public:
  void TearDown() override { fs::remove_all(ProcessDir()); }
};
const auto* const kRemoveProcessDir = ::testing::AddGlobalTestEnvironment(new RemoveProcessDir);

fs::path Scratch(const std::string& name) {
  fs::path dir = ProcessDir() / name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

// A 16-place rendered route (48 x 64) and a small model, shared by the tests.
struct Fixture {
  fs::path dir, db, queries, model, other_model;
};

const Fixture& Data() {
  static const Fixture f = [] {
    Fixture x;
    x.dir = Scratch("data");
    SyntheticOptions options;
    options.num_places = 16;
    options.height = 48;
    options.width = 64;
    options.query_dusk = false;
    WriteSyntheticDataset(MakeSyntheticRoute(options), x.dir.string());
    x.db = x.dir / "database";
    x.queries = x.dir / "queries";
    for (int seed : {1, 2}) {
      torch::manual_seed(seed);
      ModelOptions mo;
      mo.backbone.cut = 2;
      mo.netvlad.num_clusters = 4;
      VprModel model(mo);
      model->pool->InitRandom();
      const fs::path p = x.dir / ("model" + std::to_string(seed) + ".pth");
      SaveModel(p.string(), model);
      (seed == 1 ? x.model : x.other_model) = p;
    }
    return x;
  }();
  return f;
}

std::vector<std::string> Temporaries(const fs::path& dir) {
  std::vector<std::string> found;
  for (const auto& e : fs::recursive_directory_iterator(dir))
    if (e.path().filename().string().find(".tmp.") != std::string::npos) found.push_back(e.path().string());
  return found;
}

std::vector<std::string> Lines(const fs::path& path) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// ---- Kills at every rename leave the old set or the new set, never a mix.

// extract writes descriptors + names: after a kill the names beside the .npy are the
// previous run's only together with the previous descriptors.
TEST(Reliability, ExtractKilledAtEachRenameNeverLeavesNewDescriptorsBesideOldNames) {
  if (!HaveStrace()) GTEST_SKIP() << "strace cannot trace here (install it with scripts/install_deps.sh --tests; ptrace must be allowed)";
  const Fixture& d = Data();
  const fs::path dir = Scratch("extract_kill");
  const std::string out = (dir / "d.npy").string();
  const std::string old_args = "extract --threads 1 --model " + d.model.string() + " --images " + d.db.string() +
                               " --out " + out;
  const std::string new_args = "extract --threads 1 --model " + d.model.string() + " --images " +
                               d.queries.string() + " --out " + out;
  ASSERT_EQ(Shell(Vpr() + " " + new_args).code, 0);
  const std::vector<std::string> new_names = Lines(dir / "d.names.txt");
  const NpyMatrix new_rows = ReadNpy(out);
  int points = 0;
  for (int n = 1; n < 10; ++n) {
    ASSERT_EQ(Shell(Vpr() + " " + old_args).code, 0);
    const std::vector<std::string> old_names = Lines(dir / "d.names.txt");
    const NpyMatrix old_rows = ReadNpy(out);
    const Outcome killed = VprKilledAtRename(new_args, n);
    if (killed.code == 0) break;  // fewer than n renames: every point was tried
    ASSERT_EQ(killed.code, 137) << killed.output;
    ++points;
    const bool has_npy = fs::exists(out), has_names = fs::exists(dir / "d.names.txt");
    if (has_npy && has_names) {
      const NpyMatrix rows = ReadNpy(out);
      const std::vector<std::string> names = Lines(dir / "d.names.txt");
      const bool old_set = rows.data == old_rows.data && names == old_names;
      const bool new_set = rows.data == new_rows.data && names == new_names;
      EXPECT_TRUE(old_set || new_set) << "kill at rename " << n << " mixed two runs";
    } else if (has_names) {
      ADD_FAILURE() << "kill at rename " << n << ": names without descriptors";
    }
  }
  std::cout << "extract: kills tried at " << points << " renames\n";
  EXPECT_GE(points, 2) << "extract commits two files";
  ASSERT_EQ(Shell(Vpr() + " " + new_args).code, 0);
  EXPECT_TRUE(Temporaries(dir).empty()) << "a later run removes the temporaries of killed ones";
}

// eval replaces its folder whole: after a kill it is the previous run's or the new one.
TEST(Reliability, EvalKilledAtEachRenameLeavesTheOldFolderOrTheNewOne) {
  if (!HaveStrace()) GTEST_SKIP() << "strace cannot trace here (install it with scripts/install_deps.sh --tests; ptrace must be allowed)";
  const Fixture& d = Data();
  const fs::path dir = Scratch("eval_kill");
  const fs::path out = dir / "eval";
  auto args = [&](const fs::path& model) {
    return "eval --threads 1 --model " + model.string() + " --db " + d.db.string() + " --queries " +
           d.queries.string() + " --frame-tolerance 1 --cache-dir " + (dir / "cache").string() + " --out " +
           out.string();
  };
  auto fingerprint = [&] {
    std::ifstream in(out / "metrics.json");
    return nlohmann::json::parse(in).at("model_fingerprint").get<std::string>();
  };
  ASSERT_EQ(Shell(Vpr() + " " + args(d.other_model)).code, 0);
  const std::string new_fp = fingerprint();
  const size_t files = std::distance(fs::directory_iterator(out), fs::directory_iterator());
  int points = 0;
  for (int n = 1; n < 40; ++n) {
    ASSERT_EQ(Shell(Vpr() + " " + args(d.model)).code, 0);
    const std::string old_fp = fingerprint();
    const Outcome killed = VprKilledAtRename(args(d.other_model), n);
    if (killed.code == 0) break;
    ASSERT_EQ(killed.code, 137) << killed.output;
    ++points;
    ASSERT_TRUE(fs::exists(out / "metrics.json")) << "kill at rename " << n << " lost the folder";
    EXPECT_EQ(std::distance(fs::directory_iterator(out), fs::directory_iterator()), static_cast<long>(files))
        << "kill at rename " << n << " left a partial folder";
    const std::string fp = fingerprint();
    EXPECT_TRUE(fp == old_fp || fp == new_fp) << "kill at rename " << n;
  }
  // The last step, the folder exchange (renameat2), killed before it runs: the old folder.
  ASSERT_EQ(Shell(Vpr() + " " + args(d.model)).code, 0);
  const std::string old_fp = fingerprint();
  ASSERT_EQ(VprKilledAtRename(args(d.other_model), 1, "renameat2").code, 137);
  EXPECT_EQ(fingerprint(), old_fp);
  ++points;
  std::cout << "eval: kills tried at " << points << " renames\n";
  EXPECT_GE(points, 9);
  ASSERT_EQ(Shell(Vpr() + " " + args(d.other_model)).code, 0);
  EXPECT_TRUE(Temporaries(dir).empty());
}

// index writes the index and its sidecar; search refuses a pair that does not match.
TEST(Reliability, IndexKilledAtEachRenameNeverPairsAnIndexWithAnotherSidecar) {
  if (!HaveStrace()) GTEST_SKIP() << "strace cannot trace here (install it with scripts/install_deps.sh --tests; ptrace must be allowed)";
  const fs::path dir = Scratch("index_kill");
  std::vector<float> a(200 * 8), b(300 * 8);
  for (size_t i = 0; i < a.size(); ++i) a[i] = static_cast<float>(i % 17);
  for (size_t i = 0; i < b.size(); ++i) b[i] = static_cast<float>(i % 13);
  WriteNpy((dir / "a.npy").string(), a.data(), 200, 8);
  WriteNpy((dir / "b.npy").string(), b.data(), 300, 8);
  const std::string out = (dir / "db.index").string();
  auto args = [&](const char* npy) { return "index --threads 1 --descriptors " + (dir / npy).string() + " --out " + out; };
  const std::string search = Vpr() + " search --index " + out + " --queries " + (dir / "a.npy").string() +
                             " --top-k 1 --out " + (dir / "r.json").string();
  int points = 0;
  for (int n = 1; n < 10; ++n) {
    ASSERT_EQ(Shell(Vpr() + " " + args("a.npy")).code, 0);
    const Outcome killed = VprKilledAtRename(args("b.npy"), n);
    if (killed.code == 0) break;
    ASSERT_EQ(killed.code, 137) << killed.output;
    ++points;
    if (fs::exists(out) && fs::exists(out + ".json")) {
      const Outcome s = Shell(search);
      EXPECT_EQ(s.code, 0) << "kill at rename " << n << ": " << s.output;
    }
  }
  std::cout << "index: kills tried at " << points << " renames\n";
  EXPECT_GE(points, 2);
  // A sidecar from another build is refused by its fingerprint, not trusted.
  ASSERT_EQ(Shell(Vpr() + " " + args("a.npy")).code, 0);
  const std::string sidecar = ReadFileBytes(out + ".json");
  ASSERT_EQ(Shell(Vpr() + " " + args("a.npy") + " --factory IVF4,Flat").code, 0);
  WriteFileAtomic(out + ".json", sidecar);
  const Outcome s = Shell(search);
  EXPECT_NE(s.code, 0);
  EXPECT_NE(s.output.find("fingerprints differ"), std::string::npos) << s.output;
}

// train: a kill at any rename, then --resume, gives exactly the uninterrupted run.
TEST(Reliability, TrainKilledAtEachRenameResumesToTheSameModel) {
  if (!HaveStrace()) GTEST_SKIP() << "strace cannot trace here (install it with scripts/install_deps.sh --tests; ptrace must be allowed)";
  const Fixture& d = Data();
  const fs::path dir = Scratch("train_kill");
  auto args = [&](const fs::path& out) {
    return "train --threads 1 --model " + d.model.string() + " --db " + d.db.string() + " --queries " +
           d.queries.string() + " --frame-tolerance 1 --epochs 2 --cache-refresh 4 --checkpoint-every 4 "
           "--negatives 2 --negatives-sampled 8 --out " + out.string();
  };
  const fs::path straight = dir / "straight";
  ASSERT_EQ(Shell(Vpr() + " " + args(straight)).code, 0);
  const std::string final_checkpoint = ReadFileBytes((straight / "checkpoints/checkpoint.pth.tar").string());
  const std::string final_best = ReadFileBytes((straight / "checkpoints/model_best.pth.tar").string());
  int points = 0;
  for (int n = 1; n < 60; ++n) {
    const fs::path run = dir / ("run" + std::to_string(n));
    const Outcome killed = VprKilledAtRename(args(run), n);
    if (killed.code == 0) break;
    ASSERT_EQ(killed.code, 137) << killed.output;
    ++points;
    // What the user does next: resume (or start again when nothing was written yet).
    const Outcome resumed = fs::exists(run / "flags.json") ? Shell(Vpr() + " train --resume " + run.string())
                                                       : Shell(Vpr() + " " + args(run));
    ASSERT_EQ(resumed.code, 0) << "kill at rename " << n << ": " << resumed.output;
    EXPECT_EQ(ReadFileBytes((run / "checkpoints/checkpoint.pth.tar").string()), final_checkpoint)
        << "kill at rename " << n << ": the resumed run ended elsewhere";
    EXPECT_EQ(ReadFileBytes((run / "checkpoints/model_best.pth.tar").string()), final_best) << "kill at rename " << n;
    EXPECT_EQ(Lines(run / "metrics.jsonl").size(), 2u) << "kill at rename " << n;
    EXPECT_TRUE(Temporaries(run).empty()) << "kill at rename " << n;
    fs::remove_all(run);
  }
  std::cout << "train: kills tried at " << points << " renames, each resumed\n";
  EXPECT_GE(points, 8) << "2 epochs with 3 mid-epoch saves each";
}

// ---- Outputs that must not be replaced, and checks before the work.

TEST(Reliability, AFifoOrFolderGivenAsOutIsRefusedAndLeftAlone) {
  const Fixture& d = Data();
  const fs::path dir = Scratch("fifo");
  const fs::path fifo = dir / "pipe";
  ASSERT_EQ(mkfifo(fifo.c_str(), 0644), 0);
  const Outcome r = Shell(Vpr() + " extract --model " + d.model.string() + " --images " + d.db.string() + " --out " +
                      fifo.string());
  EXPECT_EQ(r.code, 1) << r.output;
  EXPECT_NE(r.output.find("not a regular file"), std::string::npos) << r.output;
  struct stat st{};
  ASSERT_EQ(stat(fifo.c_str(), &st), 0);
  EXPECT_TRUE(S_ISFIFO(st.st_mode)) << "the FIFO was replaced";
  EXPECT_EQ(r.output.find("extract: done"), std::string::npos) << "refused before the work: " << r.output;

  const Outcome folder = Shell(Vpr() + " eval --model " + d.model.string() + " --db " + d.db.string() + " --queries " +
                           d.queries.string() + " --frame-tolerance 1 --cache-dir " + (dir / "cache").string() +
                           " --out " + dir.string());
  EXPECT_EQ(folder.code, 1) << folder.output;
  EXPECT_NE(folder.output.find("which vpr eval did not write"), std::string::npos) << folder.output;
  EXPECT_TRUE(fs::exists(fifo));
}

// ---- Values checked at the boundary.

TEST(Reliability, BadDescriptorFilesAreRefusedNamingTheFlagAndTheProblem) {
  const fs::path dir = Scratch("descriptors");
  std::vector<float> db(50 * 8, 1.0f);
  for (size_t i = 0; i < db.size(); ++i) db[i] = static_cast<float>(i % 7);
  WriteNpy((dir / "db.npy").string(), db.data(), 50, 8);
  const std::string index = (dir / "db.index").string();
  ASSERT_EQ(Shell(Vpr() + " index --descriptors " + (dir / "db.npy").string() + " --out " + index).code, 0);
  auto search = [&](const std::string& queries) {
    return Shell(Vpr() + " search --index " + index + " --queries " + queries + " --out " + (dir / "r.json").string());
  };
  std::vector<float> q(3 * 8, 0.5f);
  q[8 + 3] = std::numeric_limits<float>::quiet_NaN();
  WriteNpy((dir / "nan.npy").string(), q.data(), 3, 8);
  Outcome r = search((dir / "nan.npy").string());
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.output.find("row 1 holds NaN"), std::string::npos) << r.output;
  WriteNpy((dir / "narrow.npy").string(), q.data(), 4, 6);  // fewer columns than the index
  r = search((dir / "narrow.npy").string());
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.output.find("6-d descriptors but 8-d"), std::string::npos) << r.output;
  // int32 and 3-D arrays, written as NumPy would.
  auto write_raw = [&](const std::string& name, const std::string& dict, size_t data_bytes) {
    std::string header = "{'descr': " + dict + ", }";
    header.append((64 - (10 + header.size() + 1) % 64) % 64, ' ');
    header += '\n';
    std::string bytes = std::string("\x93NUMPY\x01\x00", 8);
    bytes += static_cast<char>(header.size() & 0xFF);
    bytes += static_cast<char>(header.size() >> 8);
    WriteFileAtomic((dir / name).string(), bytes + header + std::string(data_bytes, '\0'));
  };
  write_raw("int.npy", "'<i4', 'fortran_order': False, 'shape': (3, 8)", 3 * 8 * 4);
  r = search((dir / "int.npy").string());
  EXPECT_NE(r.output.find("holds <i4 values"), std::string::npos) << r.output;
  write_raw("cube.npy", "'<f4', 'fortran_order': False, 'shape': (2, 2, 2)", 8 * 4);
  r = search((dir / "cube.npy").string());
  EXPECT_NE(r.output.find("must be a 2-D array"), std::string::npos) << r.output;
  // A 22-byte .npy whose v2 header claims 4 GB: an error, not gigabytes.
  WriteFileAtomic((dir / "claims.npy").string(), std::string("\x93NUMPY\x02\x00\xf0\xff\xff\xff{}\n\n\n\n\n\n\n\n", 22));
  r = Shell(Measured("search --index " + index + " --queries " + (dir / "claims.npy").string() + " --out " +
                     (dir / "r.json").string()));
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.output.find("header claims"), std::string::npos) << r.output;
  EXPECT_GT(PeakRssMb(r), 0) << r.output;
  EXPECT_LT(PeakRssMb(r), 512);
}

TEST(Reliability, OutOfRangeOptionsAndNanWeightsFailNamingTheFlagOrTensor) {
  const Fixture& d = Data();
  Outcome r = Shell(Vpr() + " extract --model " + d.model.string() + " --images " + d.db.string() + " --out x.npy "
                "--clusters -4");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.output.find("--clusters must be in [0, 65536]"), std::string::npos) << r.output;
  r = Shell(Vpr() + " extract --model " + d.model.string() + " --images " + d.db.string() + " --out x.npy "
            "--max-side 1000000");
  EXPECT_NE(r.output.find("at most 16384"), std::string::npos) << r.output;

  const fs::path dir = Scratch("nan_weights");
  LoadedModel loaded = LoadModel(d.model.string(), ModelFlags{});
  {
    torch::NoGradGuard no_grad;
    loaded.model->pool->centroids[1][2] = std::numeric_limits<float>::quiet_NaN();
  }
  SaveModel((dir / "nan.pth").string(), loaded.model);
  r = Shell(Vpr() + " extract --model " + (dir / "nan.pth").string() + " --images " + d.db.string() + " --out " +
            (dir / "x.npy").string());
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.output.find("tensor 'pool.centroids' holds 1 NaN"), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(dir / "x.npy"));
}

// A tampered cache entry of the right shape is noticed and recomputed, not served.
TEST(Reliability, ATamperedCacheEntryIsRecomputedWithAWarning) {
  const Fixture& d = Data();
  const fs::path dir = Scratch("cache");
  const std::string args = "eval --threads 1 --model " + d.model.string() + " --db " + d.db.string() + " --queries " +
                           d.queries.string() + " --frame-tolerance 1 --cache-dir " + (dir / "cache").string() +
                           " --out ";
  ASSERT_EQ(Shell(Vpr() + " " + args + (dir / "a").string()).code, 0);
  const std::string reference = ReadFileBytes((dir / "a" / "predictions.json").string());
  int tampered = 0;
  for (const auto& e : fs::recursive_directory_iterator(dir / "cache")) {
    if (e.path().extension() != ".npy") continue;
    NpyMatrix m = ReadNpy(e.path().string());
    m.data[0] += 0.25f;
    WriteNpy(e.path().string(), m.data.data(), m.rows, m.cols);
    ++tampered;
  }
  ASSERT_EQ(tampered, 2);
  const Outcome r = Shell(Vpr() + " " + args + (dir / "b").string());
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("do not match the checksum"), std::string::npos) << r.output;
  EXPECT_EQ(ReadFileBytes((dir / "b" / "predictions.json").string()), reference);
}

// ---- Tiny hostile files: an error within 512 MB, never gigabytes.

// Every saved fuzz input (seeds and every crash found: each under 1 MB) through the
// command that reads it, under /usr/bin/time.
TEST(Reliability, EverySavedHostileInputStaysUnder512Megabytes) {
  const fs::path corpus = fs::path(VPR_SOURCE_DIR) / "tests" / "fuzz" / "corpus";
  const Fixture& d = Data();
  const fs::path dir = Scratch("tiny");
  std::vector<float> db(100 * 8, 0.5f);
  WriteNpy((dir / "db.npy").string(), db.data(), 100, 8);
  const std::string index = (dir / "db.index").string();
  ASSERT_EQ(Shell(Vpr() + " index --descriptors " + (dir / "db.npy").string() + " --out " + index).code, 0);
  auto files = [&](const char* harness) {
    std::vector<fs::path> out;
    // The seeds and crash reproducers; generated/ (the fuzzers' own finds) is replayed by ctest.
    for (const auto& e : fs::directory_iterator(corpus / harness))
      if (e.is_regular_file()) out.push_back(e.path());
    std::sort(out.begin(), out.end());
    return out;
  };
  std::vector<std::string> commands;
  for (const auto& f : files("mat_fuzz")) commands.push_back("doctor --no-file-check --dataset " + f.string());
  for (const auto& f : files("csv_fuzz")) commands.push_back("doctor --no-file-check --dataset " + f.string());
  for (const auto& f : files("npy_fuzz"))
    commands.push_back("search --index " + index + " --queries " + f.string() + " --out " + (dir / "r.json").string());
  for (const auto& f : files("faiss_index_fuzz"))
    commands.push_back("search --index " + f.string() + " --queries " + (dir / "db.npy").string() + " --out " +
                       (dir / "r.json").string());
  for (const auto& f : files("pickle_fuzz"))
    commands.push_back("extract --model " + f.string() + " --images " + d.db.string() + " --out " +
                       (dir / "x.npy").string());
  int images = 0;
  for (const auto& f : files("image_fuzz")) {
    const fs::path one = dir / ("image" + std::to_string(images++));
    fs::create_directories(one);
    fs::copy_file(f, one / f.filename());
    commands.push_back("extract --max-side 160 --threads 1 --model " + d.model.string() + " --images " + one.string() +
                       " --out " + (dir / "x.npy").string());
  }
  for (const auto& f : files("npz_fuzz")) {
    fs::copy_file(f, dir / "gt.npz", fs::copy_options::overwrite_existing);
    commands.push_back("doctor --no-file-check --dataset " + (dir / "gt.npz").string());
  }
  ASSERT_GT(commands.size(), 40u);
  int64_t peak = 0;
  for (const auto& c : commands) {
    const Outcome r = Shell(Measured(c));
    EXPECT_NE(r.code, 139) << c << "\n" << r.output;  // no crash
    EXPECT_GT(PeakRssMb(r), 0) << c << "\n" << r.output;
    EXPECT_LT(PeakRssMb(r), 512) << c;
    peak = std::max(peak, PeakRssMb(r));
  }
  std::cout << commands.size() << " hostile inputs, peak " << peak << " MB\n";
}

// The reproducers of the issue, with the message each must give.
TEST(Reliability, TinyFilesDeclaringHugeSizesFailWithAMessage) {
  const fs::path corpus = fs::path(VPR_SOURCE_DIR) / "tests" / "fuzz" / "corpus";
  const Fixture& d = Data();
  const fs::path dir = Scratch("messages");
  fs::create_directories(dir / "images");
  fs::copy_file(corpus / "image_fuzz" / "oom_progressive_972mp_after_stray_bytes.jpg", dir / "images" / "huge.jpg");
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"doctor --no-file-check --dataset " + (corpus / "mat_fuzz" / "oom_matio_v4_59_bytes.mat").string(),
       "not a MAT file"},
      {"doctor --no-file-check --dataset " + (corpus / "mat_fuzz" / "crash_matio_truncated_struct.mat").string(),
       "is corrupt"},
      {"doctor --no-file-check --dataset " + (corpus / "mat_fuzz" / "bomb_compressed_200mb.mat").string(),
       "decompression bomb"},
      {"extract --max-side 160 --model " + d.model.string() + " --images " + (dir / "images").string() + " --out " +
           (dir / "x.npy").string(),
       "MP an image may decode to (--max-pixels)"},
  };
  for (const auto& [command, expect] : cases) {
    const Outcome r = Shell(Vpr() + " " + command);
    EXPECT_NE(r.output.find(expect), std::string::npos) << command << "\n" << r.output;
  }
}

}  // namespace
}  // namespace vpr
