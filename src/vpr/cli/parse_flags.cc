#include "vpr/cli/parse_flags.h"

#include <algorithm>
#include <cctype>
#include <numeric>

#include "vpr/cli/terminal_progress.h"
#include "vpr/util/check.h"
#include "vpr/util/logging.h"

namespace vpr {
namespace {

// pytorch-NetVlad's main.py flags that vpr has under another name. `value`: a switch of
// theirs that is one of our options with that value.
struct ForeignFlag {
  const char* theirs;
  const char* ours;
  const char* value;
};
constexpr ForeignFlag kPytorchNetVladFlags[] = {
    {"num_clusters", "clusters", nullptr},
    {"arch", "backbone", nullptr},
    {"nEpochs", "epochs", nullptr},
    {"cacheRefreshRate", "cache-refresh", nullptr},
    {"cacheBatchSize", "batch-size", nullptr},
    {"batchSize", "accumulate", nullptr},  // theirs: triplets per optimiser step
    {"optim", "optimizer", nullptr},
    {"savePath", "out", nullptr},
    {"runsPath", "out", nullptr},
    {"cachePath", "cache-dir", nullptr},
    {"nocuda", "device", "cpu"},
};

// "num_clusters" -> "num-clusters", "lrStep" -> "lr-step".
std::string KebabCase(const std::string& name) {
  std::string out;
  for (char c : name) {
    if (c == '_') {
      out += '-';
    } else if (std::isupper(static_cast<unsigned char>(c))) {
      if (!out.empty() && out.back() != '-') out += '-';
      out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    } else {
      out += c;
    }
  }
  return out;
}

std::vector<std::string> LongNames(const CLI::App& app) {
  std::vector<std::string> names;
  for (const CLI::Option* option : app.get_options())
    for (const std::string& name : option->get_lnames()) names.push_back(name);
  return names;
}

bool Contains(const std::vector<std::string>& names, const std::string& name) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

// The flag of ours that `name` means, or "" (and the value it implies, for a switch).
std::string OurName(const std::string& name, const std::vector<std::string>& known, const char** value) {
  *value = nullptr;
  for (const ForeignFlag& f : kPytorchNetVladFlags) {
    if (name != f.theirs || !Contains(known, f.ours)) continue;
    Log().info("note: --{} is pytorch-NetVlad's name; vpr calls it --{}{}{}", name, f.ours, f.value ? " " : "",
               f.value ? f.value : "");
    *value = f.value;
    return f.ours;
  }
  std::string kebab = KebabCase(name);
  if (kebab != name && Contains(known, kebab)) {
    Log().info("note: reading --{} as --{}", name, kebab);
    return kebab;
  }
  return "";
}

// The command line with foreign and misspelt-case flag names replaced by ours.
std::vector<std::string> RewriteForeignFlags(const std::vector<std::string>& args,
                                             const std::vector<std::string>& known) {
  std::vector<std::string> out;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--") {  // the rest are values
      out.insert(out.end(), args.begin() + static_cast<std::ptrdiff_t>(i), args.end());
      break;
    }
    size_t eq = arg.find('=');
    std::string name = arg.rfind("--", 0) == 0 ? arg.substr(2, eq == std::string::npos ? eq : eq - 2) : "";
    const char* value = nullptr;
    std::string ours = name.empty() || Contains(known, name) ? "" : OurName(name, known, &value);
    if (ours.empty()) {
      out.push_back(arg);
      continue;
    }
    out.push_back("--" + ours + (eq == std::string::npos ? "" : arg.substr(eq)));
    if (value) out.push_back(value);
  }
  return out;
}

// "unknown option --nprob; did you mean --nprobe?" for the first unknown flag in args.
std::string UnknownFlagMessage(const std::vector<std::string>& args, const std::vector<std::string>& known) {
  for (const std::string& arg : args) {
    if (arg == "--") break;
    if (arg.rfind("--", 0) != 0) continue;
    std::string name = arg.substr(2, arg.find('=') == std::string::npos ? std::string::npos : arg.find('=') - 2);
    if (Contains(known, name)) continue;
    std::string closest = ClosestName(name, known);
    return "unknown option --" + name + (closest.empty() ? "" : "; did you mean --" + closest + "?");
  }
  return "";
}

// Optimal string alignment distance (Levenshtein with adjacent transpositions).
size_t EditDistance(const std::string& a, const std::string& b) {
  std::vector<std::vector<size_t>> d(a.size() + 1, std::vector<size_t>(b.size() + 1));
  for (size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.size()][b.size()];
}

}  // namespace

std::string ClosestName(const std::string& typed, const std::vector<std::string>& candidates) {
  std::string best;
  size_t best_distance = std::max<size_t>(1, typed.size() / 3) + 1;
  for (const std::string& candidate : candidates) {
    size_t distance = EditDistance(typed, candidate);
    if (typed.size() >= 3 && candidate.rfind(typed, 0) == 0) distance = std::min<size_t>(distance, 1);
    if (distance < best_distance) {
      best_distance = distance;
      best = candidate;
    }
  }
  return best;
}

bool ParseFlags(CLI::App& app, int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  return ParseFlags(app, args);
}

bool ParseFlags(CLI::App& app, std::vector<std::string>& args) {
  std::string log_level;
  bool quiet = false;
  app.add_option("--log-level", log_level, "trace | debug | info | warn | error | off (default info, or $VPR_LOG_LEVEL)")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "off"}));
  app.add_flag("-q,--quiet", quiet, "warnings and errors only: no progress, no summary lines (= --log-level warn)");
  const std::vector<std::string> known = LongNames(app);
  args = RewriteForeignFlags(args, known);
  std::vector<std::string> reversed(args.rbegin(), args.rend());  // CLI11 consumes the vector from its back
  try {
    app.parse(reversed);
  } catch (const CLI::Success& e) {  // --help
    app.exit(e);
    return false;
  } catch (const CLI::ExtrasError& e) {
    std::string message = UnknownFlagMessage(args, known);
    throw UsageError(message.empty() ? std::string(e.what()) : message);
  } catch (const CLI::ParseError& e) {
    throw UsageError(e.what());
  }
  if (quiet) SetLogLevel("warn");
  if (!log_level.empty()) SetLogLevel(log_level);
  UseTerminalProgressWhereUseful();
  return true;
}

}  // namespace vpr
