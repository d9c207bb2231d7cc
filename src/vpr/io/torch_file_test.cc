#include "vpr/io/torch_file.h"

#include <gtest/gtest.h>
#include <torch/serialize.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <random>
#include <string>

#include <sys/wait.h>
#include <unistd.h>
#include <vector>

#include "vpr/test_config.h"
#include "vpr/util/atomic_file.h"
#include "vpr/util/check.h"

namespace vpr {
namespace {

namespace fs = std::filesystem;
using Kind = PyValue::Kind;
using nlohmann::json;

// Writes every fixture file with Python's torch.save, plus manifest.json holding the
// values Python sees, for exact comparison.
const char* kFixtureScript = R"PY(
import os, sys, json, collections, zipfile
import numpy as np
import torch
from torch import nn

out = sys.argv[1]
torch.manual_seed(0)
legacy = {'_use_new_zipfile_serialization': False}

def dump(t):
    values = t.flatten().tolist()
    if t.dtype == torch.bool:
        values = [int(v) for v in values]
    return {'dtype': str(t.dtype).replace('torch.', ''), 'shape': list(t.shape),
            'stride': list(t.stride()), 'offset': t.storage_offset(), 'values': values}

def strip(key):
    return '.'.join(p for p in key.split('.') if p != 'module')

# A pytorch-NetVlad style checkpoint: DataParallel-wrapped encoder and pool, SGD optimizer.
class NetVLAD(nn.Module):
    def __init__(self, clusters=4, dim=8):
        super().__init__()
        self.conv = nn.Conv2d(dim, clusters, 1, bias=False)
        self.centroids = nn.Parameter(torch.rand(clusters, dim))

model = nn.Module()
model.add_module('encoder', nn.DataParallel(nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.Conv2d(4, 8, 1))))
model.add_module('pool', nn.DataParallel(NetVLAD()))
optimizer = torch.optim.SGD(model.parameters(), lr=0.001, momentum=0.9, weight_decay=0.001)
for p in model.parameters():
    p.grad = torch.full_like(p, 0.25)
optimizer.step()
recalls = {n: np.float64(v) for n, v in zip([1, 5, 10, 20], [0.5, 0.8125, 0.875, 0.9375])}
checkpoint = {'epoch': 3, 'state_dict': model.state_dict(), 'recalls': recalls,
              'best_score': recalls[5], 'optimizer': optimizer.state_dict(), 'parallel': True}
torch.save(checkpoint, out + '/netvlad_zip.pth.tar')
torch.save(checkpoint, out + '/netvlad_legacy.pth.tar', **legacy)
torch.save(nn.DataParallel(model).state_dict(), out + '/leading_module.pth', **legacy)
manifest = {'netvlad': {
    'state_dict': {strip(k): dump(v) for k, v in model.state_dict().items()},
    'keys': [strip(k) for k in model.state_dict().keys()],
    'momentum': {str(i): dump(s['momentum_buffer']) for i, s in optimizer.state_dict()['state'].items()},
    'params': optimizer.state_dict()['param_groups'][0]['params']}}

dtypes = collections.OrderedDict()
dtypes['f32'] = torch.tensor([1.5, -2.25, 3.0e-8, 1e30])
dtypes['f64'] = torch.arange(6, dtype=torch.float64).reshape(2, 3) / 3
dtypes['i64'] = torch.tensor([-(2**62), -1, 0, 2**40 + 7])
dtypes['i32'] = torch.tensor([-(2**31), 2**31 - 1], dtype=torch.int32)
dtypes['i16'] = torch.tensor([-300, 300], dtype=torch.int16)
dtypes['i8'] = torch.tensor([-128, 127], dtype=torch.int8)
dtypes['u8'] = torch.tensor([0, 255], dtype=torch.uint8)
dtypes['b'] = torch.tensor([True, False, True])
dtypes['f16'] = torch.tensor([0.5, -1.25, 65504.0, 6e-5], dtype=torch.float16)
dtypes['bf16'] = torch.tensor([1.0, -3.5, 1e20], dtype=torch.bfloat16)
dtypes['scalar'] = torch.tensor(2.5)
dtypes['empty'] = torch.zeros(0, 3)
torch.save(dtypes, out + '/dtypes_zip.pth')
torch.save(dtypes, out + '/dtypes_legacy.pth', **legacy)
torch.save(dtypes, out + '/dtypes_p4.pth', pickle_protocol=4)
torch.save(dtypes, out + '/dtypes_p5_legacy.pth', pickle_protocol=5, **legacy)
manifest['dtypes'] = {k: dump(v) for k, v in dtypes.items()}

base = torch.arange(24, dtype=torch.float32).reshape(4, 6)
views = collections.OrderedDict(base=base, t=base.t(), slice=base[1:3, 2:5], row=base[2],
                                step=base[:, ::2], expanded=torch.tensor([1.0, 2.0]).expand(3, 2))
torch.save(views, out + '/views_zip.pth')
torch.save(views, out + '/views_legacy.pth', **legacy)
manifest['views'] = {k: dump(v) for k, v in views.items()}

class Foo:
    def __init__(self):
        self.x = 1
torch.save({'state_dict': collections.OrderedDict(a=torch.ones(2), weird=Foo()), 'epoch': 1},
           out + '/unknown_global.pth')
torch.save(model.encoder.module, out + '/whole_model_legacy.pth', **legacy)

def rewrite_zip(src, dst, drop=None, add=None):
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, 'w', zipfile.ZIP_STORED) as zout:
        names = zin.namelist()
        for name in names:
            if drop is None or not name.endswith(drop):
                zout.writestr(zin.getinfo(name), zin.read(name))
        if add:
            zout.writestr(names[0].split('/')[0] + '/' + add[0], add[1])
rewrite_zip(out + '/dtypes_zip.pth', out + '/missing_record.pth', drop='/data/0')
rewrite_zip(out + '/dtypes_zip.pth', out + '/byteorder_big.pth', add=('byteorder', 'big'))

# The real backbone in the shared data, when present.
weights = sys.argv[2] + '/data/weights/mobilenet_v2_imagenet.pth'
if os.path.exists(weights):
    state = torch.load(weights)
    manifest['mobilenet'] = {
        'keys': list(state.keys()), 'shapes': {k: list(v.shape) for k, v in state.items()},
        'sums': {k: v.double().sum().item() for k, v in state.items()},
        'exact': {k: dump(state[k]) for k in ['features.0.0.weight', 'classifier.1.bias']}}

json.dump(manifest, open(out + '/manifest.json', 'w'))
)PY";

// Reads a checkpoint SaveCheckpoint wrote and compares it with what C++ expects.
const char* kCheckScript = R"PY(
import sys, json, torch
sys.path.insert(0, sys.argv[3])
import weights_only  # torch.load(weights_only=True), the default since PyTorch 2.6
checkpoint = weights_only.load(sys.argv[1])
expected = json.load(open(sys.argv[2]))
state = checkpoint['state_dict']
assert list(state.keys()) == expected['keys'], list(state.keys())
for name, e in expected['tensors'].items():
    t = state[name]
    assert str(t.dtype) == 'torch.' + e['dtype'], (name, t.dtype)
    assert list(t.shape) == e['shape'], (name, t.shape)
    reference = torch.tensor(e['values'], dtype=getattr(torch, e['dtype'])).reshape(e['shape'])
    assert torch.equal(t, reference), (name, t, reference)
for key, value in expected['info'].items():
    assert checkpoint[key] == value, (key, checkpoint[key], value)
assert set(checkpoint.keys()) == set(expected['info'].keys()) | {'state_dict'}, checkpoint.keys()
print('python read the checkpoint')
)PY";

std::string TempDir() {
  static const std::string dir = [] {
    std::string d = (fs::temp_directory_path() / ("vpr_torch_file_test_" + std::to_string(::getpid()))).string();
    fs::create_directories(d);
    return d;
  }();
  return dir;
}

class RemoveTempDir : public ::testing::Environment {
 public:
  void TearDown() override { fs::remove_all(TempDir()); }
};
const auto* const kRemoveTempDir = ::testing::AddGlobalTestEnvironment(new RemoveTempDir);

// Runs `script` with the oracle interpreter; returns its exit status (127: no python).
int RunPython(const std::string& script, const std::string& args, std::string* log) {
  const std::string script_path = TempDir() + "/script.py";
  const std::string log_path = TempDir() + "/python.log";
  WriteFileAtomic(script_path, script);
  const std::string cmd = std::string(VPR_ORACLE_PYTHON) + " " + script_path + " " + args + " > " +
                          log_path + " 2>&1";
  const int status = std::system(cmd.c_str());
  *log = fs::exists(log_path) ? ReadFileBytes(log_path) : "";
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::string PyDtype(at::ScalarType type) {
  switch (type) {
    case at::kFloat: return "float32";
    case at::kDouble: return "float64";
    case at::kHalf: return "float16";
    case at::kBFloat16: return "bfloat16";
    case at::kLong: return "int64";
    case at::kInt: return "int32";
    case at::kShort: return "int16";
    case at::kChar: return "int8";
    case at::kByte: return "uint8";
    case at::kBool: return "bool";
    default: return c10::toString(type);
  }
}

// Exact comparison with the manifest entry Python wrote for the same tensor.
void ExpectTensor(const at::Tensor& t, const json& e, const std::string& what, bool layout = true) {
  SCOPED_TRACE(what);
  ASSERT_TRUE(t.defined());
  EXPECT_EQ(PyDtype(t.scalar_type()), e["dtype"].get<std::string>());
  ASSERT_EQ(t.sizes().vec(), e["shape"].get<std::vector<int64_t>>());
  if (layout) {
    EXPECT_EQ(t.strides().vec(), e["stride"].get<std::vector<int64_t>>());
    EXPECT_EQ(t.storage_offset(), e["offset"].get<int64_t>());
  }
  const auto& values = e["values"];
  ASSERT_EQ(static_cast<size_t>(t.numel()), values.size());
  if (t.is_floating_point()) {
    const at::Tensor d = t.to(at::kDouble).contiguous().flatten();
    for (int64_t i = 0; i < d.numel(); ++i) {
      EXPECT_EQ(d[i].item<double>(), values[i].get<double>()) << "element " << i;
    }
  } else {
    const at::Tensor l = t.to(at::kLong).contiguous().flatten();
    for (int64_t i = 0; i < l.numel(); ++i) {
      EXPECT_EQ(l[i].item<int64_t>(), values[i].get<int64_t>()) << "element " << i;
    }
  }
}

std::string ErrorOf(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

class TorchFileOracle : public ::testing::Test {
 protected:
  // Fixtures are kept in the build folder, keyed by the script, so that ctest (one
  // process per test) runs Python once rather than once per test.
  static void SetUpTestSuite() {
    const std::string key = std::to_string(std::hash<std::string>()(kFixtureScript));
    dir_ = std::string(VPR_BINARY_DIR) + "/io_test_fixtures/" + key;
    if (!fs::exists(dir_ + "/manifest.json")) {
      const std::string tmp = dir_ + ".tmp." + std::to_string(::getpid());
      fs::create_directories(tmp);
      if (RunPython(kFixtureScript, tmp + " " + VPR_SHARED_DIR, &log_) != 0) return;
      std::error_code ec;
      fs::rename(tmp, dir_, ec);  // fails harmlessly when a parallel test got there first
      fs::remove_all(tmp, ec);
    }
    ok_ = fs::exists(dir_ + "/manifest.json");
    if (ok_) manifest_ = json::parse(ReadFileBytes(dir_ + "/manifest.json"));
  }
  void SetUp() override {
    if (!ok_) {
      GTEST_SKIP() << "the oracle " << VPR_ORACLE_PYTHON
                   << " could not import torch/numpy or write fixtures: " << log_.substr(0, 500);
    }
  }
  static std::string Path(const std::string& name) { return dir_ + "/" + name; }

  static std::string dir_;
  static std::string log_;
  static bool ok_;
  static json manifest_;
};
std::string TorchFileOracle::dir_;
std::string TorchFileOracle::log_;
bool TorchFileOracle::ok_ = false;
json TorchFileOracle::manifest_;

TEST_F(TorchFileOracle, NetVladCheckpointInZipAndLegacyFormats) {
  const json& expected = manifest_["netvlad"];
  for (const std::string name : {"netvlad_zip.pth.tar", "netvlad_legacy.pth.tar"}) {
    SCOPED_TRACE(name);
    const TorchFile file = LoadTorchFile(Path(name));
    EXPECT_EQ(file.format, name.find("zip") != std::string::npos ? "zip" : "legacy");
    EXPECT_EQ(CheckpointInfo(file), json::parse(R"({"epoch": 3, "best_score": 0.8125, "parallel": true})"));

    const StateDict state = ExtractStateDict(file, Path(name));
    std::vector<std::string> keys;
    for (const auto& [key, tensor] : state) {
      keys.push_back(key);
      ExpectTensor(tensor, expected["state_dict"][key], key);
    }
    EXPECT_EQ(keys, expected["keys"].get<std::vector<std::string>>());
    ASSERT_FALSE(keys.empty());
    EXPECT_EQ(keys.front(), "encoder.0.weight");
    EXPECT_NE(std::find(keys.begin(), keys.end(), "pool.centroids"), keys.end());

    const PyValuePtr optimizer = file.root->Get("optimizer");
    ASSERT_TRUE(optimizer && optimizer->Get("state"));
    const auto& momentum = optimizer->Get("state")->entries;
    ASSERT_EQ(momentum.size(), expected["momentum"].size());
    for (const auto& [index, slot] : momentum) {
      ASSERT_TRUE(index->is(Kind::kInt));
      ExpectTensor(slot->Get("momentum_buffer")->tensor,
                   expected["momentum"][std::to_string(index->integer)], "momentum");
    }
    const PyValuePtr group = optimizer->Get("param_groups")->items.at(0);
    EXPECT_EQ(group->Get("lr")->real, 0.001);
    EXPECT_EQ(group->Get("momentum")->real, 0.9);
    EXPECT_EQ(group->Get("params")->items.size(), expected["params"].size());

    const PyValuePtr recalls = file.root->Get("recalls");
    ASSERT_TRUE(recalls && recalls->is(Kind::kDict));
    ASSERT_EQ(recalls->entries.size(), 4u);
    EXPECT_EQ(recalls->entries[1].first->integer, 5);
    EXPECT_EQ(recalls->entries[1].second->real, 0.8125);
    EXPECT_EQ(recalls->entries[3].second->real, 0.9375);
  }
}

TEST_F(TorchFileOracle, SharedMobileNetWeightsMatchPython) {
  const std::string path = std::string(VPR_SHARED_DIR) + "/data/weights/mobilenet_v2_imagenet.pth";
  if (!manifest_.contains("mobilenet")) GTEST_SKIP() << path << " is absent";
  const json& expected = manifest_["mobilenet"];
  const TorchFile file = LoadTorchFile(path);
  EXPECT_EQ(file.format, "zip");
  const StateDict state = ExtractStateDict(file, path);
  std::vector<std::string> keys;
  for (const auto& [key, tensor] : state) {
    keys.push_back(key);
    EXPECT_EQ(tensor.sizes().vec(), expected["shapes"][key].get<std::vector<int64_t>>()) << key;
    const double sum = expected["sums"][key].get<double>();
    EXPECT_NEAR(tensor.to(at::kDouble).sum().item<double>(), sum, 1e-9 * (1 + std::abs(sum))) << key;
  }
  EXPECT_EQ(keys, expected["keys"].get<std::vector<std::string>>());
  for (const auto& [key, e] : expected["exact"].items()) {
    const auto it = std::find_if(state.begin(), state.end(), [&](const auto& kv) { return kv.first == key; });
    ASSERT_NE(it, state.end()) << key;
    ExpectTensor(it->second, e, key);
  }
}

TEST_F(TorchFileOracle, LeadingModulePrefixIsRemoved) {
  const TorchFile file = LoadTorchFile(Path("leading_module.pth"));
  EXPECT_EQ(file.format, "legacy");
  const StateDict state = ExtractStateDict(file, "leading_module.pth");
  std::vector<std::string> keys;
  for (const auto& [key, tensor] : state) {
    keys.push_back(key);
    ExpectTensor(tensor, manifest_["netvlad"]["state_dict"][key], key);
  }
  EXPECT_EQ(keys, manifest_["netvlad"]["keys"].get<std::vector<std::string>>());
  EXPECT_EQ(file.root->entries.front().first->text, "module.encoder.module.0.weight");
}

TEST_F(TorchFileOracle, AllDtypesInEveryFormatAndProtocol) {
  for (const std::string name :
       {"dtypes_zip.pth", "dtypes_legacy.pth", "dtypes_p4.pth", "dtypes_p5_legacy.pth"}) {
    SCOPED_TRACE(name);
    const StateDict state = ExtractStateDict(LoadTorchFile(Path(name)), name);
    ASSERT_EQ(state.size(), manifest_["dtypes"].size());
    for (const auto& [key, tensor] : state) ExpectTensor(tensor, manifest_["dtypes"][key], key);
  }
}

TEST_F(TorchFileOracle, ViewsKeepTheirLayoutAndShareStorage) {
  for (const std::string name : {"views_zip.pth", "views_legacy.pth"}) {
    SCOPED_TRACE(name);
    const StateDict state = ExtractStateDict(LoadTorchFile(Path(name)), name);
    ASSERT_EQ(state.size(), 6u);
    for (const auto& [key, tensor] : state) ExpectTensor(tensor, manifest_["views"][key], key);
    const void* base = state[0].second.storage().data_ptr().get();
    EXPECT_EQ(state[1].second.storage().data_ptr().get(), base);  // t
    EXPECT_EQ(state[2].second.storage().data_ptr().get(), base);  // slice
    EXPECT_FALSE(state[1].second.is_contiguous());
  }
}

TEST_F(TorchFileOracle, UnknownGlobalInStateDictIsNamed) {
  const TorchFile file = LoadTorchFile(Path("unknown_global.pth"));  // loading alone is fine
  const PyValuePtr weird = file.root->Get("state_dict")->Get("weird");
  ASSERT_TRUE(weird && weird->is(Kind::kOpaque));
  EXPECT_EQ(weird->text, "__main__.Foo");
  EXPECT_EQ(weird->state->Get("x")->integer, 1);
  const std::string message = ErrorOf([&] { ExtractStateDict(file, "unknown_global.pth"); });
  EXPECT_NE(message.find("'weird' is opaque __main__.Foo, not a tensor"), std::string::npos)
      << message;
  EXPECT_NE(message.find("unknown_global.pth"), std::string::npos) << message;
}

TEST_F(TorchFileOracle, WholePickledModelIsExplained) {
  const TorchFile file = LoadTorchFile(Path("whole_model_legacy.pth"));
  ASSERT_TRUE(file.root->is(Kind::kOpaque));
  EXPECT_EQ(file.root->text, "torch.nn.modules.container.Sequential");
  const std::string message = ErrorOf([&] { ExtractStateDict(file, "whole.pth"); });
  EXPECT_NE(message.find("opaque torch.nn.modules.container.Sequential"), std::string::npos)
      << message;
  EXPECT_NE(message.find("state_dict()"), std::string::npos) << message;
}

TEST_F(TorchFileOracle, MissingStorageRecordIsNamed) {
  const std::string message = ErrorOf([&] { LoadTorchFile(Path("missing_record.pth")); });
  EXPECT_NE(message.find("missing_record.pth"), std::string::npos) << message;
  EXPECT_NE(message.find("record 'data/0'"), std::string::npos) << message;
  EXPECT_NE(message.find("missing"), std::string::npos) << message;
}

TEST_F(TorchFileOracle, BigEndianFilesAreRefused) {
  std::string message = ErrorOf([&] { LoadTorchFile(Path("byteorder_big.pth")); });
  EXPECT_NE(message.find("byte order 'big'"), std::string::npos) << message;
  // Legacy: flip sys_info's little_endian True (NEWTRUE) to False (NEWFALSE).
  std::string bytes = ReadFileBytes(Path("dtypes_legacy.pth"));
  const size_t key = bytes.find("little_endian");
  ASSERT_NE(key, std::string::npos);
  const size_t value = bytes.find('\x88', key);
  ASSERT_LT(value, key + 20);
  bytes[value] = '\x89';
  message = ErrorOf([&] { LoadTorchBytes(bytes, "flipped.pth"); });
  EXPECT_NE(message.find("flipped.pth: the file was saved on a big-endian machine"),
            std::string::npos)
      << message;
}

TEST_F(TorchFileOracle, TruncatedZipIsAnError) {
  const std::string bytes = ReadFileBytes(Path("netvlad_zip.pth.tar"));
  const std::string path = TempDir() + "/truncated_zip.pth";
  for (size_t n : {size_t{10}, size_t{100}, bytes.size() / 2, bytes.size() - 30, bytes.size() - 1}) {
    SCOPED_TRACE(n);
    WriteFileAtomic(path, bytes.substr(0, n));
    std::string message = ErrorOf([&] { LoadTorchFile(path); });
    EXPECT_NE(message.find(path + ": not a readable PyTorch zip archive"), std::string::npos)
        << message;
    message = ErrorOf([&] { LoadTorchBytes(bytes.substr(0, n), "cut.pth"); });
    EXPECT_NE(message.find("cut.pth: not a readable PyTorch zip archive"), std::string::npos)
        << message;
  }
}

TEST_F(TorchFileOracle, TruncatedLegacyFileIsAnError) {
  const std::string bytes = ReadFileBytes(Path("netvlad_legacy.pth.tar"));
  std::vector<size_t> cuts = {1, 5, 14, 20, 40, 100, 300, 1000, bytes.size() / 3,
                              bytes.size() / 2, bytes.size() - 100, bytes.size() - 9,
                              bytes.size() - 1};
  for (size_t n = 0; n < 2000; n += 7) cuts.push_back(n + 1);  // every stage of the pickles
  for (size_t n : cuts) {
    SCOPED_TRACE(n);
    const std::string message = ErrorOf([&] { LoadTorchBytes(bytes.substr(0, n), "cut.pth"); });
    EXPECT_EQ(message.rfind("cut.pth: ", 0), 0u) << message;
    EXPECT_NE(message.find("truncated"), std::string::npos) << message;
  }
  const std::string path = TempDir() + "/truncated_legacy.pth";
  WriteFileAtomic(path, bytes.substr(0, bytes.size() - 9));
  const std::string message = ErrorOf([&] { LoadTorchFile(path); });
  EXPECT_NE(message.find(path + ": truncated: storage"), std::string::npos) << message;
}

TEST(TorchFile, RandomBytesEmptyAndTarFilesAreRefused) {
  std::mt19937 rng(7);
  for (int first : {0x00, 0x42, 0x80}) {
    std::string bytes(4096, '\0');
    for (char& c : bytes) c = static_cast<char>(rng());
    bytes[0] = static_cast<char>(first);
    const std::string message = ErrorOf([&] { LoadTorchBytes(bytes, "random.bin"); });
    EXPECT_EQ(message.rfind("random.bin: ", 0), 0u) << message;
    if (first != 0x80) EXPECT_NE(message.find("not a PyTorch file"), std::string::npos) << message;
  }
  const std::string empty = TempDir() + "/empty.pth";
  WriteFileAtomic(empty, std::string());
  EXPECT_NE(ErrorOf([&] { LoadTorchFile(empty); }).find(empty + ": the file is empty"),
            std::string::npos);
  std::string tar(1024, '\0');
  tar.replace(257, 5, "ustar");
  EXPECT_NE(ErrorOf([&] { LoadTorchBytes(tar, "old.tar"); }).find("tar-format checkpoint"),
            std::string::npos);
  EXPECT_NE(ErrorOf([&] { LoadTorchFile(TempDir() + "/does_not_exist.pth"); }).find("cannot open"),
            std::string::npos);
  EXPECT_NE(ErrorOf([&] { LoadTorchFile(TempDir()); }).find("is a folder"), std::string::npos);
}

// A state_dict in the order and dtypes a model might have, with views among the tensors.
StateDict SampleStateDict() {
  const at::Tensor base = at::arange(12, at::kFloat).reshape({3, 4}) * 0.5;
  return {
      {"z.last", at::arange(5, at::kDouble) / 3},  // not sorted: the order must survive
      {"a.weight", base},
      {"a.weight_t", base.t()},            // non-contiguous
      {"a.slice", base.narrow(1, 1, 2)},   // shares base's storage
      {"steps", at::scalar_tensor(123456789012345, at::kLong)},
      {"mask", at::tensor({1, 0, 1}).to(at::kBool)},
      {"half", at::tensor({0.5f, -2.f, 1024.f}).to(at::kHalf)},
      {"empty", at::zeros({0, 4})},
  };
}

const json kInfo = json::parse(R"({"epoch": 7, "best_score": 0.75, "arch": "vgg16",
  "vpr": {"pool": "netvlad", "num_clusters": 64, "dims": [1, 2, 3], "whiten": false,
          "none": null, "nested": {"x": 1.5}}})");

TEST(TorchFile, SaveCheckpointReadsBack) {
  const std::string path = TempDir() + "/saved.pth";
  const StateDict original = SampleStateDict();
  SaveCheckpoint(path, original, kInfo);
  const TorchFile file = LoadTorchFile(path);
  EXPECT_EQ(file.format, "zip");
  EXPECT_EQ(CheckpointInfo(file), kInfo);
  const StateDict state = ExtractStateDict(file, path);
  ASSERT_EQ(state.size(), original.size());
  for (size_t i = 0; i < state.size(); ++i) {
    SCOPED_TRACE(original[i].first);
    EXPECT_EQ(state[i].first, original[i].first);
    EXPECT_EQ(state[i].second.scalar_type(), original[i].second.scalar_type());
    EXPECT_TRUE(at::equal(state[i].second, original[i].second));
  }
}

TEST(TorchFile, SaveCheckpointRefusesBadInput) {
  const std::string path = TempDir() + "/bad.pth";
  const StateDict twice = {{"a", at::ones({1})}, {"a", at::ones({1})}};
  EXPECT_NE(ErrorOf([&] { SaveCheckpoint(path, twice, json::object()); }).find("'a' twice"),
            std::string::npos);
  EXPECT_NE(ErrorOf([&] { SaveCheckpoint(path, {}, json::array()); }).find("JSON object"),
            std::string::npos);
  EXPECT_NE(ErrorOf([&] { SaveCheckpoint(path, {}, json{{"state_dict", 1}}); })
                .find("must not have a 'state_dict'"),
            std::string::npos);
  EXPECT_FALSE(fs::exists(path));
}

TEST(TorchFile, LibTorchPickleSaveValuesRead) {
  // torch::pickle_save tags containers (restore_type_tag, build_intlist, ...).
  c10::impl::GenericDict dict(c10::StringType::get(), c10::AnyType::get());
  dict.insert("ints", c10::List<int64_t>({1, -2, 1LL << 40}));
  dict.insert("doubles", c10::List<double>({0.5, -1.25}));
  dict.insert("bools", c10::List<bool>({true, false}));
  dict.insert("tensors", c10::List<at::Tensor>({at::ones({2}), at::zeros({1}, at::kLong)}));
  dict.insert("tuple", c10::ivalue::Tuple::create({c10::IValue(1), c10::IValue("x")}));
  c10::Dict<int64_t, double> by_int;
  by_int.insert(5, 0.8125);
  dict.insert("by_int", by_int);
  dict.insert("none", c10::IValue());
  const std::vector<char> raw = torch::pickle_save(dict);
  const TorchFile file = LoadTorchBytes(std::string(raw.begin(), raw.end()), "pickle_save");
  const PyValuePtr& root = file.root;
  ASSERT_TRUE(root->is(Kind::kDict));
  EXPECT_EQ(root->Get("ints")->items.at(2)->integer, 1LL << 40);
  EXPECT_EQ(root->Get("doubles")->items.at(1)->real, -1.25);
  EXPECT_TRUE(root->Get("bools")->items.at(0)->boolean);
  EXPECT_TRUE(at::equal(root->Get("tensors")->items.at(0)->tensor, at::ones({2})));
  EXPECT_EQ(root->Get("tensors")->items.at(1)->tensor.scalar_type(), at::kLong);
  EXPECT_EQ(root->Get("tuple")->items.at(1)->text, "x");
  EXPECT_EQ(root->Get("by_int")->entries.at(0).second->real, 0.8125);
  EXPECT_TRUE(root->Get("none")->is(Kind::kNone));
  const std::string message = ErrorOf([&] { ExtractStateDict(file, "values.pth"); });
  EXPECT_NE(message.find("no state_dict found"), std::string::npos) << message;
  EXPECT_NE(message.find("'ints', 'doubles'"), std::string::npos) << message;
}

TEST(TorchFile, CheckpointInfoOfSharedSubListsStaysSmall) {
  // {"epoch": 2, "vpr": {"deep": L60}} with L(i) = [L(i-1), L(i-1)]: 2^60 values if expanded.
  auto make = [](Kind kind) {
    auto v = std::make_shared<PyValue>();
    v->kind = kind;
    return v;
  };
  auto text = [&](const std::string& s) {
    auto v = make(Kind::kString);
    v->text = s;
    return v;
  };
  PyValuePtr list = make(Kind::kList);
  for (int i = 0; i < 60; ++i) {
    PyValuePtr next = make(Kind::kList);
    next->items = {list, list};
    list = next;
  }
  PyValuePtr vpr = make(Kind::kDict);
  vpr->entries.emplace_back(text("deep"), list);
  PyValuePtr epoch = make(Kind::kInt);
  epoch->integer = 2;
  TorchFile file{make(Kind::kDict), "zip"};
  file.root->entries = {{text("epoch"), epoch}, {text("vpr"), vpr}};
  const json info = CheckpointInfo(file);
  EXPECT_EQ(info["epoch"], 2);
  EXPECT_TRUE(info["vpr"]["deep"].is_array());
}

TEST(TorchFile, PythonReadsSavedCheckpoint) {
  const std::string path = TempDir() + "/for_python.pth";
  const StateDict state = SampleStateDict();
  SaveCheckpoint(path, state, kInfo);
  json expected = {{"info", kInfo}, {"keys", json::array()}, {"tensors", json::object()}};
  for (const auto& [name, tensor] : state) {
    expected["keys"].push_back(name);
    json values = json::array();
    const at::Tensor flat = tensor.contiguous().flatten();
    for (int64_t i = 0; i < flat.numel(); ++i) {
      if (tensor.is_floating_point()) {
        values.push_back(flat[i].item<double>());
      } else {
        values.push_back(flat[i].item<int64_t>());
      }
    }
    expected["tensors"][name] = {{"dtype", PyDtype(tensor.scalar_type())},
                                 {"shape", tensor.sizes().vec()},
                                 {"values", values}};
  }
  const std::string expected_path = TempDir() + "/for_python.json";
  WriteFileAtomic(expected_path, expected.dump());
  std::string log;
  const int status =
      RunPython(kCheckScript, path + " " + expected_path + " " + std::string(VPR_SOURCE_DIR) + "/tests/oracle", &log);
  if (status == 127 || log.find("No module named 'torch'") != std::string::npos) {
    GTEST_SKIP() << "the oracle " << VPR_ORACLE_PYTHON << " cannot run torch: " << log;
  }
  EXPECT_EQ(status, 0) << log;
  EXPECT_NE(log.find("python read the checkpoint"), std::string::npos) << log;
}

}  // namespace
}  // namespace vpr
