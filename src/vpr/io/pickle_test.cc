#include "vpr/io/pickle.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cstdlib>
#include <filesystem>
#include <string>

#include <unistd.h>

#include "vpr/test_config.h"
#include "vpr/util/atomic_file.h"
#include "vpr/util/check.h"

namespace vpr {
namespace {

namespace fs = std::filesystem;
using Kind = PyValue::Kind;

// Pickle bytes written as a mix of byte values and ASCII text: B({0x80, 2, "K", 5, "."}).
struct Piece {
  Piece(int byte) : text(1, static_cast<char>(byte)) {}  // NOLINT: implicit on purpose
  Piece(const char* ascii) : text(ascii) {}              // NOLINT
  std::string text;
};

std::string B(std::initializer_list<Piece> pieces) {
  std::string out;
  for (const Piece& piece : pieces) out += piece.text;
  return out;
}

PyValuePtr Load(const std::string& bytes, const PersistentLoad& load = nullptr) {
  size_t consumed = 0;
  PyValuePtr v = Unpickle(bytes.data(), bytes.size(), &consumed, load);
  EXPECT_EQ(consumed, bytes.size());
  return v;
}

std::string ErrorOf(const std::string& bytes, const PersistentLoad& load = nullptr) {
  try {
    size_t consumed = 0;
    Unpickle(bytes.data(), bytes.size(), &consumed, load);
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

std::string Hex(const std::string& bytes) {
  static const char* kDigits = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) out += std::string{kDigits[c >> 4], kDigits[c & 15]};
  return out;
}

std::string Unhex(const std::string& hex) {
  std::string out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) {
    out += static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16));
  }
  return out;
}

// The JSON the oracle script writes for the same Python value.
nlohmann::json ToJson(const PyValue& v) {
  switch (v.kind) {
    case Kind::kNone: return nullptr;
    case Kind::kBool: return v.boolean;
    case Kind::kInt: return v.integer;
    case Kind::kFloat: return v.real;
    case Kind::kString: return v.text;
    case Kind::kBytes: return {{"__bytes__", Hex(v.text)}};
    case Kind::kList:
    case Kind::kTuple: {
      nlohmann::json out = nlohmann::json::array();
      for (const auto& item : v.items) out.push_back(ToJson(*item));
      return out;
    }
    case Kind::kDict: {
      nlohmann::json out = nlohmann::json::object();
      for (const auto& [key, value] : v.entries) {
        out[key->kind == Kind::kString ? key->text : std::to_string(key->integer)] = ToJson(*value);
      }
      return out;
    }
    case Kind::kOpaque: return {{"__opaque__", v.text}};
    case Kind::kGlobal: return {{"__global__", v.text}};
    default: return {{"__other__", v.Describe()}};
  }
}

// Pickles of many values in protocols 2 to 5, with the JSON each should read as.
const char* kOracleScript = R"PY(
import sys, json, pickle, collections, decimal, struct
import numpy as np

cases = []
def add(name, obj, expected, protocols=(2, 3, 4, 5)):
    for p in protocols:
        cases.append({'name': '%s/p%d' % (name, p), 'hex': pickle.dumps(obj, protocol=p).hex(),
                      'expected': expected})
def add_error(name, obj, message):
    for p in (2, 4):
        cases.append({'name': '%s/p%d' % (name, p), 'hex': pickle.dumps(obj, protocol=p).hex(),
                      'error': message})
def b(x): return {'__bytes__': x.hex()}

ints = [0, 1, 255, 256, 65535, 65536, -1, -256, 2**31 - 1, -2**31, 2**31, 2**32, 2**63 - 1, -2**63]
add('ints', ints, ints)
floats = [0.0, 0.1, -2.5e-300, 1e308, 3.141592653589793, -7.25]
add('floats', floats, floats)
strings = ['', 'a', 'h\u00e9llo', '\u65e5\u672c\u8a9e', 'x' * 300]
add('strings', strings, strings)
add('bytes', [b'', b'\x00\xff\x80', bytes(range(256)) * 2], [b(b''), b(b'\x00\xff\x80'), b(bytes(range(256)) * 2)])
add('bytearray', bytearray(b'\x01\xf2'), b(b'\x01\xf2'))
add('nested', {'a': [1, (2, 3), {'b': None}], 'c': (True, False), 'd': ()},
    {'a': [1, [2, 3], {'b': None}], 'c': [True, False], 'd': []})
add('tuples', [(), (1,), (1, 2), (1, 2, 3), (1, 2, 3, 4)], [[], [1], [1, 2], [1, 2, 3], [1, 2, 3, 4]])
shared = [1, 2]
add('shared', [shared, shared, {'x': shared}], [[1, 2], [1, 2], {'x': [1, 2]}])
add('ordered', collections.OrderedDict([('z', 1), ('a', 2)]), {'z': 1, 'a': 2})
add('intkeys', {1: 'a', 5: 'b'}, {'1': 'a', '5': 'b'})
add('set', {3, 1, 2}, list({3, 1, 2}))
add('frozenset', frozenset([5]), [5])
add('numpy', [np.float64(0.8125), np.float32(1.5), np.float16(0.5), np.int64(-7), np.int32(9),
              np.uint8(200), np.bool_(True), np.int8(-5), np.uint64(2**63 + 1)],
    [0.8125, 1.5, 0.5, -7, 9, 200, True, -5, {'__opaque__': 'numpy.core.multiarray.scalar'}])
add('opaque', [decimal.Decimal('1.5'), collections.Counter('aab')],
    [{'__opaque__': 'decimal.Decimal'}, {'__opaque__': 'collections.Counter'}])
# A big-endian float64 scalar: the dtype's BUILD state says '>'.
be = pickle.dumps(np.float64(1.5), protocol=3)
be = be.replace(b'X\x01\x00\x00\x00<', b'X\x01\x00\x00\x00>').replace(struct.pack('<d', 1.5), struct.pack('>d', 1.5))
cases.append({'name': 'numpy_big_endian', 'hex': be.hex(), 'expected': 1.5})
add_error('bigint', 2**64, 'does not fit')
add_error('negbigint', -2**63 - 1, 'does not fit')
loop = []
loop.append(loop)
add_error('cycle', loop, 'cycle')
loop_dict = {}
loop_dict['me'] = [loop_dict]
add_error('cycle_dict', loop_dict, 'cycle')
json.dump(cases, open(sys.argv[1], 'w'))
)PY";

class PickleOracle : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = (fs::temp_directory_path() / ("vpr_pickle_test_" + std::to_string(::getpid()))).string();
    fs::create_directories(dir_);
    const std::string script = dir_ + "/oracle.py";
    WriteFileAtomic(script, std::string(kOracleScript));
    const std::string cmd = std::string(VPR_ORACLE_PYTHON) + " " + script + " " + dir_ +
                            "/cases.json > " + dir_ + "/log.txt 2>&1";
    ok_ = std::system(cmd.c_str()) == 0;
  }
  static void TearDownTestSuite() { fs::remove_all(dir_); }

  static std::string dir_;
  static bool ok_;
};
std::string PickleOracle::dir_;
bool PickleOracle::ok_ = false;

TEST_F(PickleOracle, PythonPicklesReadAsPythonSeesThem) {
  if (!ok_) GTEST_SKIP() << "the oracle " << VPR_ORACLE_PYTHON << " with numpy did not run";
  const auto cases = nlohmann::json::parse(ReadFileBytes(dir_ + "/cases.json"));
  ASSERT_GT(cases.size(), 60u);
  for (const auto& c : cases) {
    SCOPED_TRACE(c["name"].get<std::string>());
    const std::string bytes = Unhex(c["hex"]);
    if (c.contains("error")) {
      EXPECT_NE(ErrorOf(bytes).find(c["error"].get<std::string>()), std::string::npos)
          << ErrorOf(bytes);
      continue;
    }
    PyValuePtr v;
    ASSERT_NO_THROW(v = Load(bytes));
    EXPECT_EQ(ToJson(*v), c["expected"]);
  }
}

TEST(Pickle, OrderedDictKeepsInsertionOrderAndGet) {
  // collections.OrderedDict() REDUCE, then SETITEMS z, a, m.
  const std::string bytes = B({0x80, 2, "ccollections\nOrderedDict\n)R(X", 1, 0, 0, 0, "zK", 1,
                               "X", 1, 0, 0, 0, "aK", 2, "X", 1, 0, 0, 0, "mK", 3, "u."});
  PyValuePtr v = Load(bytes);
  ASSERT_TRUE(v->is(Kind::kDict));
  ASSERT_EQ(v->entries.size(), 3u);
  EXPECT_EQ(v->entries[0].first->text, "z");
  EXPECT_EQ(v->entries[1].first->text, "a");
  EXPECT_EQ(v->entries[2].first->text, "m");
  ASSERT_TRUE(v->Get("a"));
  EXPECT_EQ(v->Get("a")->integer, 2);
  EXPECT_EQ(v->Get("q"), nullptr);
  EXPECT_EQ(v->Describe(), "dict of 3");
}

TEST(Pickle, Python2OrderedDictFromPairsAndRepeatedKeys) {
  // OrderedDict([['a', 1], ['b', 2], ['a', 3]]) as Python 2 pickles it (SHORT_BINSTRING).
  const std::string bytes =
      B({0x80, 2, "ccollections\nOrderedDict\nq", 0, "]q", 1, "(]q", 2, "(U", 1, "aK", 1, "e]q", 3,
         "(U", 1, "bK", 2, "e]q", 4, "(U", 1, "aK", 3, "ee", 0x85, "Rq", 5, "."});
  PyValuePtr v = Load(bytes);
  ASSERT_TRUE(v->is(Kind::kDict));
  ASSERT_EQ(v->entries.size(), 2u);
  EXPECT_EQ(v->entries[0].first->text, "a");
  EXPECT_EQ(v->entries[0].second->integer, 3);  // the later value wins, in the first slot
  EXPECT_EQ(v->entries[1].first->text, "b");
}

TEST(Pickle, TextOpcodesAndStackOpcodes) {
  // Protocol 0 INT/LONG/FLOAT, PUT/GET; DUP, POP, POP_MARK, TUPLE1-3, LIST, DICT, SETITEM.
  const std::string bytes =
      B({"(I42\nI01\nL-12345678901L\nF2.5\np7\ng7\n20(I1\nI2\n1t",  // a tuple of 5
         "K", 1, 0x85, "K", 1, "K", 2, 0x86, "K", 1, "K", 2, "K", 3, 0x87, 0x87,
         "(K", 7, "K", 8, "l(X", 1, 0, 0, 0, "kK", 9, "dX", 1, 0, 0, 0, "jK", 10, "s", 0x86,
         0x87, "."});
  PyValuePtr v = Load(bytes);
  ASSERT_TRUE(v->is(Kind::kTuple));
  ASSERT_EQ(v->items.size(), 3u);
  EXPECT_EQ(ToJson(*v->items[0]), nlohmann::json::parse("[42, true, -12345678901, 2.5, 2.5]"));
  EXPECT_EQ(ToJson(*v->items[1]), nlohmann::json::parse("[[1], [1, 2], [1, 2, 3]]"));
  EXPECT_EQ(ToJson(*v->items[2]), nlohmann::json::parse(R"([[7, 8], {"k": 9, "j": 10}])"));
}

TEST(Pickle, WideOpcodesSetsAndStackGlobal) {
  const std::string bytes = B({
      0x80, 4, 0x95, 0, 0, 0, 0, 0, 0, 0, 0, "(",                       // PROTO 4, FRAME, MARK
      0x8b, 3, 0, 0, 0, 0xff, 0xff, 0x7f,                                // LONG4 0x7fffff
      0x8a, 9, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,      // LONG1 -1 in 9 bytes
      0x8d, 2, 0, 0, 0, 0, 0, 0, 0, "hi",                                // BINUNICODE8
      0x8e, 1, 0, 0, 0, 0, 0, 0, 0, 7,                                   // BINBYTES8
      "B", 2, 0, 0, 0, 1, 2, "C", 1, 3,                                  // BINBYTES, SHORT_BINBYTES
      "T", 3, 0, 0, 0, "abcU", 2, "xy",                                  // Python 2 strings
      0x8f, 0x94, "(K", 5, "K", 6, 0x90, "(K", 9, 0x91,                  // set, frozenset
      0x8c, 5, "torch", 0x8c, 4, "Size", 0x93, "K", 2, "K", 3, 0x86, 0x85, "R",  // torch.Size
      "j", 0, 0, 0, 0, "l."});                                           // LONG_BINGET 0 (set)
  PyValuePtr v = Load(bytes);
  EXPECT_EQ(ToJson(*v), nlohmann::json::parse(
                            R"([8388607, -1, "hi", {"__bytes__": "07"}, {"__bytes__": "0102"},
                                {"__bytes__": "03"}, "abc", "xy", [5, 6], [9], [2, 3], [5, 6]])"));
}

TEST(Pickle, UnknownGlobalsBecomeOpaqueWithArgsAndState) {
  // mymod.Thing(1, 'x') REDUCE, BUILD {'a': 2}; then mymod.Other NEWOBJ (); then a bare global.
  const std::string bytes =
      B({0x80, 2, "(cmymod\nThing\nK", 1, "X", 1, 0, 0, 0, "x", 0x86, "R}X", 1, 0, 0, 0, "aK", 2,
         "sbcmymod\nOther\n)", 0x81, "c__builtin__\nlen\nt."});
  PyValuePtr v = Load(bytes);
  ASSERT_EQ(v->items.size(), 3u);
  const PyValuePtr& thing = v->items[0];
  ASSERT_TRUE(thing->is(Kind::kOpaque));
  EXPECT_EQ(thing->text, "mymod.Thing");
  EXPECT_EQ(thing->Describe(), "opaque mymod.Thing");
  ASSERT_EQ(thing->items.size(), 2u);
  EXPECT_EQ(ToJson(*thing->items[1]), "x");
  ASSERT_TRUE(thing->state);
  EXPECT_EQ(thing->state->Get("a")->integer, 2);
  EXPECT_EQ(v->items[1]->text, "mymod.Other");
  ASSERT_TRUE(v->items[2]->is(Kind::kGlobal));
  EXPECT_EQ(v->items[2]->text, "builtins.len");  // Python 2 module names are mapped
}

TEST(Pickle, ConsumedStopsAtTheFirstStop) {
  const std::string bytes = B({0x80, 2, "K", 5, ".", 0x80, 2, "K", 6, "."});
  size_t consumed = 0;
  PyValuePtr v = Unpickle(bytes.data(), bytes.size(), &consumed, nullptr);
  EXPECT_EQ(v->integer, 5);
  EXPECT_EQ(consumed, 5u);
  v = Unpickle(bytes.data() + consumed, bytes.size() - consumed, &consumed, nullptr);
  EXPECT_EQ(v->integer, 6);
}

// A persistent_load handing out one float storage holding 0..5.
PyValuePtr SixFloats(const PyValuePtr&) {
  auto storage = std::make_shared<PyValue>();
  storage->kind = Kind::kStorage;
  storage->tensor = at::arange(6, at::kFloat);
  return storage;
}

// _rebuild_tensor_v2(<persistent storage>, offset, size, stride, False, OrderedDict()).
std::string RebuildPickle(const std::string& offset_size_stride) {
  return B({0x80, 2, "ctorch._utils\n_rebuild_tensor_v2\n(NQ"}) + offset_size_stride +
         B({0x89, "ccollections\nOrderedDict\n)RtR."});
}

TEST(Pickle, RebuildTensorMakesAStridedViewOfTheStorage) {
  // offset 1, size (2, 2), stride (1, 2): [[1, 3], [2, 4]]
  PyValuePtr v = Load(RebuildPickle(B({"K", 1, "K", 2, "K", 2, 0x86, "K", 1, "K", 2, 0x86})),
                      SixFloats);
  ASSERT_TRUE(v->is(Kind::kTensor));
  EXPECT_TRUE(at::equal(v->tensor, at::tensor({1.f, 3.f, 2.f, 4.f}).reshape({2, 2})));
  EXPECT_EQ(v->tensor.strides(), at::IntArrayRef({1, 2}));
  EXPECT_EQ(v->Describe(), "tensor float[2, 2]");
}

TEST(Pickle, RebuildTensorRejectsViewsOutsideTheStorage) {
  auto error_for = [](const std::string& args) { return ErrorOf(RebuildPickle(args), SixFloats); };
  std::string message = error_for(B({"K", 5, "K", 2, 0x85, "K", 1, 0x85}));  // offset 5, size 2
  EXPECT_NE(message.find("reaches element 6 but its storage has 6"), std::string::npos) << message;
  EXPECT_NE(message.find("(opcode REDUCE)"), std::string::npos) << message;
  message = error_for(B({"K", 7, "K", 0, 0x85, "K", 1, 0x85}));
  EXPECT_NE(message.find("outside its storage"), std::string::npos) << message;
  message = error_for(B({"K", 0, "J", 0xff, 0xff, 0xff, 0xff, 0x85, "K", 1, 0x85}));
  EXPECT_NE(message.find("negative"), std::string::npos) << message;
  message = error_for(B({"K", 0, 0x8a, 8, 0, 0, 0, 0, 0, 0, 0, 0x40, "K", 4, 0x86, "K", 4, "K", 1,
                         0x86}));
  EXPECT_NE(message.find("overflows"), std::string::npos) << message;
  message = error_for(B({"K", 0, 0x8a, 6, 0, 0, 0, 0, 0, 1, 0x85, "K", 1, 0x85}));
  EXPECT_NE(message.find("reaches element"), std::string::npos) << message;
  message = error_for(B({"K", 0, "K", 2, 0x85, "K", 1, "K", 1, 0x86}));
  EXPECT_NE(message.find("1 sizes but 2 strides"), std::string::npos) << message;
}

TEST(Pickle, RebuildTensorOnAnUnknownStorageIsOpaque) {
  auto opaque_storage = [](const PyValuePtr&) {
    auto v = std::make_shared<PyValue>();
    v->kind = Kind::kOpaque;
    v->text = "torch.QInt8Storage";
    return v;
  };
  PyValuePtr v = Load(RebuildPickle(B({"K", 0, "K", 2, 0x85, "K", 1, 0x85})), opaque_storage);
  ASSERT_TRUE(v->is(Kind::kOpaque));
  EXPECT_EQ(v->text, "torch._utils._rebuild_tensor_v2");
}

TEST(Pickle, ErrorsNameOffsetAndOpcode) {
  auto expect_error = [](const std::string& bytes, const std::string& part) {
    const std::string message = ErrorOf(bytes);
    EXPECT_NE(message.find(part), std::string::npos) << message;
  };
  expect_error(B({0x80, 2, "K", 1, 0xff, "."}), "byte 4 (opcode 0xff)");
  expect_error(B({0x80, 2, "X", 16, 0, 0, 0, "abc."}), "byte 2 (opcode BINUNICODE): truncated");
  expect_error(B({0x80, 2, "h", 3, "."}), "memo key 3");
  expect_error(B({0x80, 2, "a."}), "stack underflow");
  expect_error(B({0x80, 2, "K", 1, "K", 2, "u."}), "no MARK");
  expect_error(B({0x80, 7, "N."}), "protocol 7");
  expect_error(B({0x80, 2, "N"}), "before the pickle's STOP");
  expect_error(B({0x80, 2, "(X", 1, 0, 0, 0, "aK", 1, "tQ."}), "no persistent_load");
  expect_error(B({0x80, 2, "K", 1, "K", 2, "b."}), "cannot BUILD");
  expect_error(B({0x80, 2, "K", 1, ")R."}), "cannot call int 1");
  expect_error(B({0x80, 2, "S'a'\n."}), "unsupported");
  expect_error("", "truncated");
}

TEST(Pickle, EveryPrefixOfAPickleFailsCleanly) {
  const std::string bytes =
      B({0x80, 2, "}q", 0, "(X", 1, 0, 0, 0, "aq", 1, "]q", 2, "(K", 1, "M", 0, 1, "J", 0, 0, 1, 0,
         "G", 0x3f, 0xf0, 0, 0, 0, 0, 0, 0, 0x8a, 1, 0xff, "eX", 1, 0, 0, 0, "bh", 2, "u."});
  PyValuePtr v = Load(bytes);
  EXPECT_EQ(ToJson(*v), nlohmann::json::parse(R"({"a": [1, 256, 65536, 1.0, -1],
                                                  "b": [1, 256, 65536, 1.0, -1]})"));
  for (size_t n = 0; n < bytes.size(); ++n) {
    const std::string message = ErrorOf(bytes.substr(0, n));
    EXPECT_NE(message.find("truncated"), std::string::npos) << n << ": " << message;
  }
}

TEST(Pickle, DeepNestingIsAnErrorNotACrash) {
  const size_t depth = 200000;  // far past the limit; would overflow a recursive walk
  const std::string chain = B({0x80, 2}) + std::string(depth, ']') + std::string(depth - 1, 'a');
  EXPECT_NE(ErrorOf(chain + ".").find("nested more than"), std::string::npos);
  // Dropping such a chain after another error must not recurse either.
  EXPECT_NE(ErrorOf(chain + B({0xff})).find("0xff"), std::string::npos);
}

TEST(Pickle, ReusingOneBigTupleInManyCallsIsBounded) {
  // A 1000-item tuple passed 5000 times to an unknown callable: each opaque result would
  // copy it, 5 million pointers from 35 kB of input.
  std::string bytes = B({0x80, 2, "cmod\nf\nq", 0, "("}) + std::string(1000, 'N') +
                      B({"tq", 1, "0"});
  for (int i = 0; i < 5000; ++i) bytes += B({"h", 0, "h", 1, "R0"});
  bytes += "N.";
  const std::string message = ErrorOf(bytes);
  EXPECT_NE(message.find("copies more values"), std::string::npos) << message;
}

TEST(Pickle, SelfContainingListIsRejected) {
  EXPECT_NE(ErrorOf(B({0x80, 2, "]q", 0, "h", 0, "a."})).find("cycle"), std::string::npos);
}

TEST(Pickle, TooWideIntegersAreRejected) {
  EXPECT_NE(ErrorOf(B({0x80, 2, 0x8a, 9, 0, 0, 0, 0, 0, 0, 0, 0x80, 0, "."})).find("does not fit"),
            std::string::npos);
  EXPECT_NE(ErrorOf(B({0x80, 2, 0x8b, 0xff, 0xff, 0xff, 0xff, "."})).find("negative"),
            std::string::npos);
  EXPECT_EQ(Load(B({0x80, 2, 0x8a, 0, "."}))->integer, 0);
  EXPECT_EQ(Load(B({0x80, 2, 0x8a, 8, 0, 0, 0, 0, 0, 0, 0, 0x80, "."}))->integer, INT64_MIN);
  EXPECT_EQ(Load(B({0x80, 2, 0x8a, 9, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f, 0, "."}))
                ->integer,
            INT64_MAX);
}

}  // namespace
}  // namespace vpr
