// LoadCsvDataset: a CSV with a header row: path, split (database|db / query|queries) and
// either easting,northing (metres) or lat,lon / latitude,longitude (degrees, WGS84).
#include <GeographicLib/UTMUPS.hpp>
#include <algorithm>
#include <cctype>
#include <fstream>
#include <map>
#include <optional>

#include "vpr/data/dataset_files.h"
#include "vpr/data/load_dataset.h"
#include "vpr/util/check.h"

namespace vpr {
namespace {

// A CSV carries no radius; 25 m is the usual street-level one (Pitts30k, Tokyo 24/7).
constexpr double kDefaultRadius = 25.0;

std::string Trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t\r"), e = s.find_last_not_of(" \t\r");
  return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

// One CSV record: comma-separated, fields may be "quoted" with "" for a quote.
std::vector<std::string> SplitCsv(const std::string& line) {
  std::vector<std::string> fields(1);
  bool quoted = false;
  for (size_t i = 0; i < line.size(); ++i) {
    char c = line[i];
    if (quoted && c == '"' && i + 1 < line.size() && line[i + 1] == '"') {
      fields.back() += '"';
      ++i;
    } else if (c == '"') {
      quoted = !quoted;
    } else if (c == ',' && !quoted) {
      fields.emplace_back();
    } else {
      fields.back() += c;
    }
  }
  for (auto& f : fields) f = Trim(f);
  return fields;
}

// Column indices by lower-case header name.
struct Columns {
  std::map<std::string, size_t> index;
  std::optional<size_t> Get(const std::string& name) const {
    auto it = index.find(name);
    return it == index.end() ? std::nullopt : std::optional<size_t>(it->second);
  }
};

struct Layout {
  size_t path, split, x, y;
  bool latlon;
};

Layout FindLayout(const Columns& c, const std::string& file, const std::string& header) {
  auto path = c.Get("path"), split = c.Get("split");
  auto east = c.Get("easting"), north = c.Get("northing");
  auto lat = c.Get("lat") ? c.Get("lat") : c.Get("latitude");
  auto lon = c.Get("lon") ? c.Get("lon") : c.Get("longitude");
  bool utm = east && north, latlon = lat && lon;
  VPR_CHECK(path && split && (utm || latlon), "CSV '", file, "': the header row '", header,
            "' must name the columns path, split and either easting,northing (metres) or lat,lon "
            "(also latitude,longitude; degrees), e.g. 'path,easting,northing,split'");
  if (utm) return {*path, *split, *east, *north, false};
  return {*path, *split, *lat, *lon, true};
}

double Number(const std::string& s, const std::string& column, size_t line, const std::string& file) {
  size_t used = 0;
  double v = 0;
  try {
    v = std::stod(s, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  VPR_CHECK(used > 0 && used == s.size(), "CSV '", file, "' line ", line, ": column ", column, " is '", s,
            "', not a number");
  return v;
}

// lat/lon -> UTM, every point in the zone and hemisphere of the first one so that
// distances across a zone border (or the equator) stay right.
class UtmProjector {
 public:
  void Project(double lat, double lon, size_t line, const std::string& file, double* east, double* north) {
    int zone = 0;
    bool northp = true;
    try {
      GeographicLib::UTMUPS::Forward(lat, lon, zone, northp, *east, *north,
                                     zone_ < 0 ? GeographicLib::UTMUPS::STANDARD : zone_);
      if (zone_ < 0) {
        zone_ = zone;
        northp_ = northp;
      }
      if (GeographicLib::UTMUPS::StandardZone(lat, lon) != zone_) ++outside_;
      if (northp != northp_)
        GeographicLib::UTMUPS::Transfer(zone, northp, *east, *north, zone_, northp_, *east, *north, zone);
    } catch (const GeographicLib::GeographicErr& e) {
      if (zone_ < 0)
        VPR_THROW("CSV '", file, "' line ", line, ": lat ", lat, ", lon ", lon,
                  " cannot be projected to UTM: ", e.what(),
                  "; check that the latitude is in [-90, 90] and lat and lon are not swapped");
      VPR_THROW("CSV '", file, "' line ", line, ": lat ", lat, ", lon ", lon, " cannot be projected to UTM zone ",
                ZoneName(), " (the zone of the first row): ", e.what(),
                "; all images must lie within a few hundred km of each other");
    }
  }
  std::string ZoneName() const {
    return zone_ == 0 ? std::string("UPS ") + (northp_ ? "N" : "S") : std::to_string(zone_) + (northp_ ? "N" : "S");
  }
  nlohmann::json Info() const {
    return {{"utm_zone", ZoneName()},
            {"points_outside_zone", outside_},
            {"projection",
             "lat/lon (WGS84) to UTM with GeographicLib; every point in the first point's zone "
             "and hemisphere so that distances stay consistent"}};
  }

 private:
  int zone_ = -1;
  bool northp_ = true;
  int outside_ = 0;
};

}  // namespace

Dataset LoadCsvDataset(const std::string& file, const std::string& root) {
  std::ifstream in(file);
  VPR_CHECK(in.good(), "cannot read the CSV dataset '", file, "'");
  std::string header;
  VPR_CHECK(static_cast<bool>(std::getline(in, header)), "CSV '", file, "' is empty; it needs a header row such as ",
            "'path,easting,northing,split'");
  if (header.rfind("\xEF\xBB\xBF", 0) == 0) header.erase(0, 3);  // UTF-8 BOM (Excel)
  Columns columns;
  std::vector<std::string> names = SplitCsv(header);
  for (size_t i = 0; i < names.size(); ++i) columns.index.emplace(Lower(names[i]), i);
  Layout layout = FindLayout(columns, file, Trim(header));
  Dataset d;
  d.kind = "csv";
  d.root = NamesRoot(file, root);
  UtmProjector projector;
  size_t line_number = 1;
  for (std::string line; std::getline(in, line);) {
    ++line_number;
    if (Trim(line).empty()) continue;
    std::vector<std::string> f = SplitCsv(line);
    VPR_CHECK(f.size() == names.size(), "CSV '", file, "' line ", line_number, " has ", f.size(),
              " fields but the header has ", names.size());
    std::string split = Lower(f[layout.split]);
    bool db = split == "database" || split == "db", query = split == "query" || split == "queries";
    VPR_CHECK(db || query, "CSV '", file, "' line ", line_number, ": split is '", f[layout.split],
              "'; use database (or db) or query (or queries)");
    double x = Number(f[layout.x], names[layout.x], line_number, file);
    double y = Number(f[layout.y], names[layout.y], line_number, file);
    if (layout.latlon) projector.Project(x, y, line_number, file, &x, &y);
    VPR_CHECK(!f[layout.path].empty(), "CSV '", file, "' line ", line_number, ": the path is empty");
    (db ? d.database_names : d.query_names).push_back(f[layout.path]);
    auto& positions = db ? d.database_positions : d.query_positions;
    positions.insert(positions.end(), {x, y});
  }
  VPR_CHECK(!d.database_names.empty() && !d.query_names.empty(), "CSV '", file, "' has ", d.database_names.size(),
            " database and ", d.query_names.size(), " query rows; both splits need at least one image");
  d.database = UnderRoot(d.root, d.database_names);
  d.queries = UnderRoot(d.root, d.query_names);
  d.positive_radius = kDefaultRadius;
  d.position_unit = "m";
  d.info = {{"file", file}, {"coordinates", layout.latlon ? "lat/lon" : "easting/northing"}};
  if (layout.latlon) d.info.update(projector.Info());
  d.Check();
  return d;
}

}  // namespace vpr
