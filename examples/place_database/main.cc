// Builds a place database from a folder of images, saves it, loads it back and measures
// recall@1 of a second folder against both. The folders are frame-aligned: the i-th image
// (by file name) of --queries shows the place of the i-th image of --db.
//
//   vpr_place_database_example --model M.pth [--max-side N] --db DIR --queries DIR
//                              [--tolerance T] --out FILE.vprdb
#include <vpr/vpr.h>

#include <opencv2/imgcodecs.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace fs = std::filesystem;

// The files of a folder, sorted by name.
std::vector<fs::path> ListImages(const std::string& folder) {
  std::vector<fs::path> files;
  for (const fs::directory_entry& entry : fs::directory_iterator(folder)) {
    if (entry.is_regular_file()) files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

std::vector<float> DescribeFile(const vpr::PlaceRecognizer& recognizer, const fs::path& file) {
  cv::Mat image = cv::imread(file.string(), cv::IMREAD_COLOR);  // 8-bit BGR
  if (image.empty()) throw vpr::Error("cannot read " + file.string());
  return recognizer.Describe(image);
}

bool SameMatches(const std::vector<vpr::Match>& a, const std::vector<vpr::Match>& b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(), [](const vpr::Match& x, const vpr::Match& y) {
    return x.id == y.id && x.distance == y.distance && x.info.name == y.info.name;
  });
}

int main(int argc, char** argv) {
  std::map<std::string, std::string> args{{"--max-side", "0"}, {"--tolerance", "0"}};
  for (int i = 1; i + 1 < argc; i += 2) args[argv[i]] = argv[i + 1];
  for (const char* required : {"--model", "--db", "--queries", "--out"}) {
    if (args.count(required) == 0) {
      std::fprintf(stderr, "usage: %s --model M.pth [--max-side N] --db DIR --queries DIR [--tolerance T] --out FILE\n",
                   argv[0]);
      return 2;
    }
  }
  try {
    vpr::RecognizerOptions options;
    options.model = args["--model"];
    options.max_side = std::stoi(args["--max-side"]);
    const vpr::PlaceRecognizer recognizer(options);

    // One place per database image; x and time are its frame index.
    vpr::PlaceDatabase database(recognizer.dim());
    const std::vector<fs::path> places = ListImages(args["--db"]);
    for (size_t i = 0; i < places.size(); ++i) {
      const double frame = static_cast<double>(i);
      database.Add(DescribeFile(recognizer, places[i]), vpr::PlaceInfo{places[i].filename().string(), frame, 0.0, frame});
    }
    database.Save(args["--out"]);
    const vpr::PlaceDatabase loaded = vpr::PlaceDatabase::Load(args["--out"]);

    const std::vector<fs::path> queries = ListImages(args["--queries"]);
    const int tolerance = std::stoi(args["--tolerance"]);
    int hits = 0;
    for (size_t j = 0; j < queries.size(); ++j) {
      const std::vector<float> descriptor = DescribeFile(recognizer, queries[j]);
      const std::vector<vpr::Match> matches = database.Query(descriptor, 5);  // nearest first
      if (!SameMatches(matches, loaded.Query(descriptor, 5))) {
        std::fprintf(stderr, "%s: the loaded database answers differently\n", queries[j].c_str());
        return 1;
      }
      if (!matches.empty() && std::abs(matches[0].info.x - static_cast<double>(j)) <= tolerance) ++hits;
    }
    std::printf("recall@1 %.3f (%d/%zu), saved and loaded databases agree\n",
                queries.empty() ? 0.0 : static_cast<double>(hits) / queries.size(), hits, queries.size());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
