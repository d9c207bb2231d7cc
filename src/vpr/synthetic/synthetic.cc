#include "vpr/synthetic/synthetic.h"

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <iomanip>
#include <ostream>
#include <random>
#include <string>
#include <vector>

#include "vpr/util/atomic_file.h"
#include "vpr/util/check.h"
#include "vpr/util/logging.h"

namespace vpr {

namespace {

// ---------------------------------------------------------------------------------
// Randomness. Our own uniform mapping of mt19937_64 output, because the standard
// distributions may differ between standard libraries and the images must not.

uint64_t SplitMix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}

// Independent streams (scene, each query) from one seed, so that changing one
// stream's consumption never changes another's images.
uint64_t StreamSeed(uint64_t seed, uint64_t stream) {
  return SplitMix64(SplitMix64(seed) ^ SplitMix64(stream + 0x5DEECE66DULL));
}

class Random {
 public:
  explicit Random(uint64_t seed) : gen_(seed) {}

  double Uniform(double lo, double hi) {
    double u = static_cast<double>(gen_() >> 11) * 0x1.0p-53;
    return lo + (hi - lo) * u;
  }
  // Inclusive of both ends.
  int Int(int lo, int hi) {
    return lo + static_cast<int>(gen_() % static_cast<uint64_t>(hi - lo + 1));
  }
  bool Chance(double p) { return Uniform(0.0, 1.0) < p; }
  uint64_t Bits() { return gen_(); }

  cv::Scalar Jitter(const cv::Scalar& c, double amount) {
    double common = Uniform(-amount, amount);  // mostly lighter/darker, a bit of hue
    cv::Scalar out;
    for (int k = 0; k < 3; ++k) {
      out[k] = std::clamp(c[k] + common + Uniform(-amount, amount) * 0.4, 0.0, 255.0);
    }
    return out;
  }

  template <typename T, size_t N>
  const T& Pick(const std::array<T, N>& items) {
    return items[static_cast<size_t>(Int(0, static_cast<int>(N) - 1))];
  }

 private:
  std::mt19937_64 gen_;
};

// ---------------------------------------------------------------------------------
// Geometry. The street is one long strip of facades; a camera at x_cam looks at it
// side-on. Objects carry a depth factor d = (facade distance / object distance), so
// d = 1 is the facade plane, d < 1 is behind it (skyline, clouds), d > 1 in front
// (trees, lamps, road). Nearer objects move faster across the image (parallax) and
// sit lower, the way a ground plane seen from eye height does.

struct Layout {
  int width = 0;
  int height = 0;
  double horizon = 0;  // eye level, in image rows
  double base = 0;     // row where the facades meet the sidewalk
  double step = 0;     // strip pixels between consecutive places
  double lo = 0;       // strip range that has scenery
  double hi = 0;
  cv::Mat day_sky, dusk_sky, overcast_sky;  // backgrounds, rendered once
  cv::Mat glow;               // CV_32F falloff of a street lamp's light, computed once
  double H(double fraction) const { return fraction * height; }  // size scaled to height
  double GroundRow(double d) const { return horizon + (base - horizon) * d; }
};

// In twilight the sky stays the brightest part of the scene, deep blue above and
// orange towards the horizon. An overcast sky is a flat grey, a little lighter low down.
enum class Sky { kDay, kDusk, kOvercast };

cv::Mat MakeSky(const Layout& l, Sky kind) {
  cv::Scalar top = kind == Sky::kDusk       ? cv::Scalar(150, 100, 78)
                   : kind == Sky::kOvercast ? cv::Scalar(160, 158, 156)
                                            : cv::Scalar(232, 186, 128);
  cv::Scalar low = kind == Sky::kDusk       ? cv::Scalar(135, 180, 245)
                   : kind == Sky::kOvercast ? cv::Scalar(190, 192, 196)
                                            : cv::Scalar(245, 230, 212);
  cv::Mat sky(l.height, l.width, CV_8UC3);
  for (int y = 0; y < l.height; ++y) {
    double t = std::min(1.0, y / l.base);
    sky.row(y).setTo(top * (1 - t) + low * t);
  }
  return sky;
}

// Light from a lamp, fading to nothing over a radius proportional to the image height.
cv::Mat MakeGlow(const Layout& l) {
  int radius = std::max(1, cvRound(l.H(0.22)));
  cv::Mat glow(2 * radius + 1, 2 * radius + 1, CV_32F);
  for (int y = 0; y < glow.rows; ++y) {
    for (int x = 0; x < glow.cols; ++x) {
      double r = std::min(1.0, std::hypot(x - radius, y - radius) / radius);
      glow.at<float>(y, x) = static_cast<float>(0.55 * (1 - r) * (1 - r));
    }
  }
  return glow;
}

Layout MakeLayout(const SyntheticOptions& o) {
  Layout l;
  l.width = o.width;
  l.height = o.height;
  l.horizon = 0.42 * o.height;
  l.base = 0.70 * o.height;
  l.step = std::max(1.0, o.step_fraction * o.width);
  // Distant layers need strip beyond the route ends: at d = 0.25 a frame spans 4 widths.
  l.lo = -3.0 * o.width - o.query_max_shift_px;
  l.hi = (o.num_places - 1) * l.step + 3.0 * o.width + o.query_max_shift_px;
  l.day_sky = MakeSky(l, Sky::kDay);
  l.dusk_sky = MakeSky(l, Sky::kDusk);
  l.overcast_sky = MakeSky(l, Sky::kOvercast);
  l.glow = MakeGlow(l);
  return l;
}

// Depths of the layers.
constexpr double kCloudDepth = 0.25;
constexpr double kSkylineDepth = 0.55;
constexpr double kTreeDepth = 1.15;
constexpr double kCurbDepth = 1.32;
constexpr double kLampDepth = 1.36;
constexpr double kLaneDepth = 1.78;

// ---------------------------------------------------------------------------------
// Scene description, generated once from the seed and painted for every view.

enum class Texture { kPlain, kBrick, kSiding, kPanels };

struct WindowSpec {
  cv::Rect rect;
  cv::Scalar glass;
  cv::Scalar lamp;   // its light at dusk
  bool lit = false;  // lit at dusk
};

struct ShopFront {
  bool present = false;
  cv::Rect sign, display, door;
  cv::Scalar sign_color, text_color, logo_color, door_color, display_glass;
  std::string text;
  double text_scale = 1.0;
  int text_thickness = 1;
  int logo_shape = 0;  // 0 circle, 1 triangle, 2 diamond
  bool sign_lit = false;
  bool awning = false;
  cv::Scalar awning_a, awning_b;
  bool display_lit = false;
};

struct Building {
  int x0 = 0, x1 = 0, top = 0;
  cv::Scalar wall, trim, roof, frame, shutter;
  Texture texture = Texture::kPlain;
  bool gable = false;
  int gable_height = 0;
  bool roof_box = false;
  cv::Rect box;
  int window_style = 0;  // 0 plain, 1 cross bars, 2 shutters
  std::vector<WindowSpec> windows;
  ShopFront shop;
  cv::Rect entrance;  // residential door when there is no shop
};

struct SkyBlock {
  double x0, x1;
  int top;
  cv::Scalar day;
};

struct Cloud {
  double x;
  int y;
  std::vector<cv::Vec3d> puffs;  // dx, dy, radius
};

struct Tree {
  double x;
  std::vector<cv::Vec3d> crown;  // dx, height above ground, radius
  std::vector<cv::Scalar> leaves;
  cv::Scalar trunk;
};

struct Scene {
  std::vector<Cloud> clouds;
  std::vector<SkyBlock> skyline;
  std::vector<Building> buildings;
  std::vector<Tree> trees;
  std::vector<double> lamps;
};

std::string RandomWord(Random& rng) {
  static const char kLetters[] = "ABCDEFGHIKLMNOPRSTUVWYZ";
  std::string word;
  int n = rng.Int(3, 8);
  for (int i = 0; i < n; ++i) word += kLetters[rng.Int(0, sizeof(kLetters) - 2)];
  return word;
}

double Luma(const cv::Scalar& c) { return 0.114 * c[0] + 0.587 * c[1] + 0.299 * c[2]; }

void AddSkyline(const Layout& l, Random& rng, Scene& s) {
  // Generous range: at depth 0.55 a frame sees about 1.8 image widths of strip.
  for (double x = l.lo; x < l.hi;) {
    double w = rng.Uniform(l.H(0.15), l.H(0.55));
    int top = static_cast<int>(rng.Uniform(l.H(0.12), l.H(0.36)));
    s.skyline.push_back({x, x + w, top, rng.Jitter(cv::Scalar(190, 172, 158), 14)});
    x += w;
  }
}

void AddClouds(const Layout& l, Random& rng, Scene& s) {
  for (double x = l.lo; x < l.hi; x += rng.Uniform(l.H(0.8), l.H(2.5))) {
    Cloud c{x, static_cast<int>(rng.Uniform(l.H(0.04), l.H(0.22))), {}};
    int puffs = rng.Int(3, 7);
    for (int i = 0; i < puffs; ++i) {
      c.puffs.push_back({rng.Uniform(-l.H(0.12), l.H(0.12)), rng.Uniform(-l.H(0.02), l.H(0.02)),
                         rng.Uniform(l.H(0.025), l.H(0.05))});
    }
    s.clouds.push_back(c);
  }
}

void AddWindows(const Layout& l, Random& rng, Building& b, int ground_floor_top) {
  static const std::array<cv::Scalar, 4> kGlass = {
      cv::Scalar(150, 120, 95), cv::Scalar(120, 105, 90), cv::Scalar(170, 150, 130),
      cv::Scalar(95, 85, 80)};
  static const std::array<cv::Scalar, 3> kLamp = {
      cv::Scalar(120, 215, 255), cv::Scalar(170, 230, 255), cv::Scalar(90, 180, 245)};
  double floor_h = rng.Uniform(l.H(0.10), l.H(0.125));
  double col_w = rng.Uniform(l.H(0.085), l.H(0.13));
  double win_w = col_w * rng.Uniform(0.45, 0.65);
  double win_h = floor_h * rng.Uniform(0.5, 0.72);
  int width = b.x1 - b.x0;
  int cols = std::max(1, static_cast<int>((width - l.H(0.05)) / col_w));
  double side = (width - cols * col_w) / 2.0;
  int floors = static_cast<int>((ground_floor_top - b.top - l.H(0.05)) / floor_h);
  cv::Scalar glass = rng.Jitter(rng.Pick(kGlass), 10);
  for (int f = 0; f < floors; ++f) {
    double floor_bottom = ground_floor_top - f * floor_h;
    for (int c = 0; c < cols; ++c) {
      WindowSpec w;
      double x = b.x0 + side + c * col_w + (col_w - win_w) / 2;
      double y = floor_bottom - floor_h + (floor_h - win_h) / 2;
      w.rect = cv::Rect(cvRound(x), cvRound(y), cvRound(win_w), cvRound(win_h));
      w.glass = rng.Jitter(glass, 8);
      w.lamp = rng.Jitter(rng.Pick(kLamp), 12);
      w.lit = rng.Chance(0.45);
      b.windows.push_back(w);
    }
  }
}

void AddShop(const Layout& l, Random& rng, Building& b, int ground_floor_top) {
  static const std::array<cv::Scalar, 8> kSigns = {
      cv::Scalar(40, 40, 200),  cv::Scalar(60, 140, 40), cv::Scalar(150, 70, 20),
      cv::Scalar(30, 190, 230), cv::Scalar(35, 35, 35),  cv::Scalar(230, 230, 230),
      cv::Scalar(120, 40, 120), cv::Scalar(20, 110, 220)};
  ShopFront& s = b.shop;
  s.present = true;
  int inset = cvRound(l.H(rng.Uniform(0.02, 0.05)));
  int sign_h = cvRound(l.H(rng.Uniform(0.04, 0.06)));
  s.sign = cv::Rect(b.x0 + inset, ground_floor_top + cvRound(l.H(0.01)),
                    std::max(4, b.x1 - b.x0 - 2 * inset), sign_h);
  s.sign_color = rng.Jitter(rng.Pick(kSigns), 12);
  s.text_color = Luma(s.sign_color) > 120 ? cv::Scalar(30, 30, 30) : cv::Scalar(235, 240, 245);
  cv::Scalar other = rng.Jitter(rng.Pick(kSigns), 20);
  if (std::abs(Luma(other) - Luma(s.sign_color)) > 80)
    s.text_color = other;  // legible colours only
  s.logo_color = rng.Jitter(rng.Pick(kSigns), 20);
  s.logo_shape = rng.Int(0, 2);
  s.text = RandomWord(rng);
  s.text_thickness = rng.Chance(0.5) ? 1 : 2;
  int baseline = 0;
  cv::Size size =
      cv::getTextSize(s.text, cv::FONT_HERSHEY_SIMPLEX, 1.0, s.text_thickness, &baseline);
  double room = s.sign.width - sign_h * 1.6;  // leave space for the logo
  s.text_scale = std::max(0.05, std::min(0.7 * sign_h / size.height, 0.9 * room / size.width));
  s.sign_lit = rng.Chance(0.5);
  int door_w = cvRound(l.H(0.06));
  int front_top = s.sign.br().y + cvRound(l.H(0.012));
  int front_h = cvRound(l.base) - front_top;
  bool door_left = rng.Chance(0.5);
  int door_x =
      door_left ? s.sign.x + cvRound(l.H(0.01)) : s.sign.br().x - door_w - cvRound(l.H(0.01));
  s.door = cv::Rect(door_x, front_top, door_w, front_h);
  int disp_x0 = door_left ? s.door.br().x + cvRound(l.H(0.015)) : s.sign.x + cvRound(l.H(0.01));
  int disp_x1 = door_left ? s.sign.br().x - cvRound(l.H(0.01)) : s.door.x - cvRound(l.H(0.015));
  int sill = cvRound(l.H(0.025));
  s.display =
      cv::Rect(disp_x0, front_top, std::max(0, disp_x1 - disp_x0), std::max(1, front_h - sill));
  s.door_color = rng.Jitter(cv::Scalar(40, 50, 70), 20);
  s.display_glass = rng.Jitter(cv::Scalar(110, 95, 80), 15);
  s.display_lit = rng.Chance(0.7);
  s.awning = rng.Chance(0.35);
  s.awning_a = rng.Jitter(rng.Pick(kSigns), 15);
  s.awning_b = cv::Scalar(235, 235, 235);
}

Building MakeBuilding(const Layout& l, Random& rng, double x0, double width) {
  static const std::array<cv::Scalar, 11> kWalls = {
      cv::Scalar(60, 72, 150),   cv::Scalar(52, 58, 118),   cv::Scalar(160, 195, 215),
      cv::Scalar(190, 222, 238), cv::Scalar(150, 150, 146), cv::Scalar(118, 198, 226),
      cv::Scalar(140, 170, 140), cv::Scalar(200, 172, 140), cv::Scalar(222, 226, 228),
      cv::Scalar(82, 120, 188),  cv::Scalar(96, 96, 102)};
  static const std::array<cv::Scalar, 4> kRoofs = {cv::Scalar(50, 55, 90), cv::Scalar(70, 70, 75),
                                                   cv::Scalar(40, 45, 50), cv::Scalar(90, 80, 60)};
  Building b;
  b.x0 = cvRound(x0);
  b.x1 = cvRound(x0 + width);
  b.top = cvRound(l.base - rng.Uniform(l.H(0.3), l.H(0.64)));
  b.wall = rng.Jitter(rng.Pick(kWalls), 14);
  b.trim = rng.Chance(0.5) ? rng.Jitter(cv::Scalar(225, 228, 230), 10) : b.wall * 0.7;
  b.roof = rng.Jitter(rng.Pick(kRoofs), 10);
  b.frame = rng.Chance(0.6) ? cv::Scalar(235, 238, 240) : rng.Jitter(cv::Scalar(50, 50, 55), 10);
  b.shutter = rng.Jitter(rng.Pick(kRoofs) * 1.4, 20);
  b.texture = static_cast<Texture>(rng.Int(0, 3));
  b.window_style = rng.Int(0, 2);
  b.gable = width < l.H(0.9) && rng.Chance(0.3);
  b.gable_height = cvRound(rng.Uniform(l.H(0.07), l.H(0.15)));
  b.roof_box = !b.gable && rng.Chance(0.3);
  int box_w = cvRound(rng.Uniform(l.H(0.05), l.H(0.15)));
  int box_h = cvRound(rng.Uniform(l.H(0.03), l.H(0.07)));
  int box_x = rng.Int(b.x0, std::max(b.x0, b.x1 - box_w));
  b.box = cv::Rect(box_x, b.top - box_h, box_w, box_h);
  int ground_floor_top = cvRound(l.base - l.H(0.16));
  AddWindows(l, rng, b, ground_floor_top);
  if (rng.Chance(0.65)) {
    AddShop(l, rng, b, ground_floor_top);
  } else {
    int door_w = cvRound(l.H(0.065));
    int door_h = cvRound(l.H(0.12));
    int door_x = rng.Int(b.x0 + door_w / 2, std::max(b.x0 + door_w / 2, b.x1 - 2 * door_w));
    b.entrance = cv::Rect(door_x, cvRound(l.base) - door_h, door_w, door_h);
  }
  return b;
}

void AddBuildings(const Layout& l, Random& rng, Scene& s) {
  for (double x = l.lo; x < l.hi;) {
    double w = rng.Uniform(l.H(0.45), l.H(1.15));
    s.buildings.push_back(MakeBuilding(l, rng, x, w));
    x += w;
  }
}

void AddStreetFurniture(const Layout& l, Random& rng, Scene& s) {
  static const std::array<cv::Scalar, 4> kLeaves = {cv::Scalar(40, 105, 45),
                                                    cv::Scalar(55, 135, 70), cv::Scalar(35, 85, 50),
                                                    cv::Scalar(60, 140, 100)};
  for (double x = l.lo; x < l.hi; x += rng.Uniform(l.H(0.7), l.H(2.0))) {
    if (!rng.Chance(0.55)) continue;
    Tree t{x, {}, {}, rng.Jitter(cv::Scalar(40, 60, 85), 10)};
    double scale = rng.Uniform(0.8, 1.25);
    int puffs = rng.Int(5, 9);
    for (int i = 0; i < puffs; ++i) {
      t.crown.push_back({rng.Uniform(-l.H(0.075), l.H(0.075)) * scale,
                         rng.Uniform(l.H(0.2), l.H(0.3)) * scale,
                         rng.Uniform(l.H(0.045), l.H(0.075)) * scale});
      t.leaves.push_back(rng.Jitter(rng.Pick(kLeaves), 12));
    }
    s.trees.push_back(t);
  }
  // Lamps are regular, as on a real street, with small irregularities.
  double period = rng.Uniform(l.H(1.4), l.H(1.8));
  for (double x = l.lo; x < l.hi; x += period * rng.Uniform(0.9, 1.1)) s.lamps.push_back(x);
}

Scene MakeScene(const Layout& l, Random& rng) {
  Scene s;
  AddClouds(l, rng, s);
  AddSkyline(l, rng, s);
  AddBuildings(l, rng, s);
  AddStreetFurniture(l, rng, s);
  return s;
}

// ---------------------------------------------------------------------------------
// Painting one view of the scene.

struct Lighting {
  bool dusk = false;
  bool overcast = false;                  // daytime under a grey sky, no clouds
  double gain = 1.0;                      // on reflecting surfaces
  cv::Scalar tint = cv::Scalar(1, 1, 1);  // per channel, on reflecting surfaces
};

// The colour of a reflecting surface under this light.
cv::Scalar Lit(const Lighting& light, const cv::Scalar& c) {
  return cv::Scalar(c[0] * light.gain * light.tint[0], c[1] * light.gain * light.tint[1],
                    c[2] * light.gain * light.tint[2]);
}

class Painter {
 public:
  Painter(const Layout& l, const Lighting& light, double x_cam)
      : l_(l),
        light_(light),
        x_cam_(x_cam),
        img_((light.dusk ? l.dusk_sky : light.overcast ? l.overcast_sky : l.day_sky).clone()) {}

  cv::Mat Paint(const Scene& s) {
    if (!light_.dusk && !light_.overcast) {
      for (const Cloud& c : s.clouds) DrawCloud(c);
    }
    for (const SkyBlock& b : s.skyline) DrawSkyBlock(b);
    for (const Building& b : s.buildings) {
      if (Visible(b.x0 - l_.H(0.02), b.x1 + l_.H(0.02), 1.0)) DrawBuilding(b);
    }
    Ground();
    for (const Tree& t : s.trees) DrawTree(t);
    for (double x : s.lamps) DrawLamp(x);
    return img_;
  }

 private:
  double U(double x, double d) const { return l_.width / 2.0 + (x - x_cam_) * d; }
  double V(double y, double d) const { return l_.horizon + (y - l_.horizon) * d; }
  cv::Point P(double x, double y, double d = 1.0) const {
    return cv::Point(cvRound(U(x, d)), cvRound(V(y, d)));
  }
  cv::Rect R(const cv::Rect& r) const {  // a facade-plane rectangle
    return cv::Rect(P(r.x, r.y), P(r.br().x, r.br().y));
  }
  bool Visible(double x0, double x1, double d) const {
    return U(x1, d) >= -2 && U(x0, d) <= l_.width + 2;
  }
  cv::Scalar Surf(const cv::Scalar& c) const { return Lit(light_, c); }
  // Lamps, lit windows and signs shine at dusk instead of reflecting.
  cv::Scalar Emit(const cv::Scalar& day, const cv::Scalar& lit, bool on) const {
    return light_.dusk && on ? lit : Surf(day);
  }
  void Fill(const cv::Rect& facade_rect, const cv::Scalar& color) {
    cv::rectangle(img_, R(facade_rect), color, cv::FILLED);
  }

  void DrawCloud(const Cloud& c) {
    if (!Visible(c.x - l_.H(0.2), c.x + l_.H(0.2), kCloudDepth)) return;
    for (const cv::Vec3d& p : c.puffs) {
      cv::Point center(cvRound(U(c.x + p[0], kCloudDepth)), cvRound(c.y + p[1]));
      cv::ellipse(img_, center, cv::Size(cvRound(p[2] * 1.8), cvRound(p[2])), 0, 0, 360,
                  cv::Scalar(248, 246, 244), cv::FILLED, cv::LINE_AA);
    }
  }

  void DrawSkyBlock(const SkyBlock& b) {
    if (!Visible(b.x0, b.x1, kSkylineDepth)) return;
    cv::Scalar color = light_.dusk ? cv::Scalar(72, 52, 58) : Surf(b.day);
    cv::rectangle(img_, cv::Point(cvRound(U(b.x0, kSkylineDepth)), b.top),
                  cv::Point(cvRound(U(b.x1, kSkylineDepth)), cvRound(l_.base)), color, cv::FILLED);
  }

  void DrawBuilding(const Building& b) {
    if (b.gable) {
      std::vector<cv::Point> roof = {P(b.x0 - l_.H(0.01), b.top), P(b.x1 + l_.H(0.01), b.top),
                                     P((b.x0 + b.x1) / 2.0, b.top - b.gable_height)};
      cv::fillConvexPoly(img_, roof, Surf(b.roof), cv::LINE_AA);
    }
    if (b.roof_box) Fill(b.box, Surf(b.roof * 1.2));
    cv::Rect wall(b.x0, b.top, b.x1 - b.x0, cvRound(l_.base) - b.top);
    Fill(wall, Surf(b.wall));
    DrawTexture(b, wall);
    int cornice = cvRound(l_.H(0.022));
    Fill(cv::Rect(b.x0, b.top, wall.width, cornice), Surf(b.trim));
    // A thin shadow line separates neighbouring buildings.
    cv::line(img_, P(b.x0, b.top), P(b.x0, l_.base), Surf(b.wall * 0.6), 1);
    for (const WindowSpec& w : b.windows) DrawWindow(b, w);
    if (b.shop.present) {
      DrawShop(b.shop);
    } else {
      Fill(b.entrance, Surf(b.trim));
      Fill(
          cv::Rect(b.entrance.x + 2, b.entrance.y + 2, b.entrance.width - 4, b.entrance.height - 2),
          Surf(cv::Scalar(45, 55, 80)));
    }
  }

  void DrawTexture(const Building& b, const cv::Rect& wall) {
    cv::Scalar line = Surf(b.wall * 0.86);
    int gap = 0;
    switch (b.texture) {
      case Texture::kPlain:
        return;
      case Texture::kBrick:
        gap = std::max(3, cvRound(l_.H(0.016)));
        break;
      case Texture::kSiding:
        gap = std::max(4, cvRound(l_.H(0.03)));
        break;
      case Texture::kPanels: {
        int panel = std::max(8, cvRound(l_.H(0.12)));
        for (int x = wall.x + panel; x < wall.br().x; x += panel) {
          cv::line(img_, P(x, wall.y), P(x, wall.br().y), line, 1);
        }
        return;
      }
    }
    for (int y = wall.y + gap; y < wall.br().y; y += gap) {
      cv::line(img_, P(wall.x, y), P(wall.br().x - 1, y), line, 1);
    }
  }

  void DrawWindow(const Building& b, const WindowSpec& w) {
    cv::Rect r = R(w.rect);
    int frame = std::max(1, cvRound(l_.H(0.005)));
    if (b.window_style == 2) {  // shutters either side
      int sw = r.width / 2;
      cv::rectangle(img_, cv::Rect(r.x - sw, r.y, sw, r.height), Surf(b.shutter), cv::FILLED);
      cv::rectangle(img_, cv::Rect(r.br().x, r.y, sw, r.height), Surf(b.shutter), cv::FILLED);
    }
    cv::rectangle(img_, r, Surf(b.frame), cv::FILLED);
    cv::Rect glass(r.x + frame, r.y + frame, r.width - 2 * frame, r.height - 2 * frame);
    cv::Scalar glass_color = Emit(w.glass, w.lamp, w.lit);
    cv::rectangle(img_, glass, glass_color, cv::FILLED);
    if (!light_.dusk) {  // a pale reflection of the sky in the upper pane
      cv::Rect shine(glass.x, glass.y, glass.width, glass.height / 3);
      cv::rectangle(img_, shine, Surf(w.glass * 1.25), cv::FILLED);
    }
    if (b.window_style == 1) {
      cv::line(img_, cv::Point(r.x + r.width / 2, r.y), cv::Point(r.x + r.width / 2, r.br().y),
               Surf(b.frame), 1);
      cv::line(img_, cv::Point(r.x, r.y + r.height / 2), cv::Point(r.br().x, r.y + r.height / 2),
               Surf(b.frame), 1);
    }
    cv::rectangle(img_, cv::Rect(r.x - frame, r.br().y, r.width + 2 * frame, frame + 1),
                  Surf(b.trim), cv::FILLED);  // sill
  }

  void DrawShop(const ShopFront& s) {
    cv::Scalar lit_display(150, 215, 250);
    Fill(s.display, Emit(s.display_glass, lit_display, s.display_lit));
    cv::Rect d = R(s.display);
    for (int i = 1; i < 3; ++i) {  // mullions split the display window in three
      int x = d.x + d.width * i / 3;
      cv::line(img_, cv::Point(x, d.y), cv::Point(x, d.br().y), Surf(cv::Scalar(50, 50, 50)), 2);
    }
    Fill(s.door, Surf(s.door_color));
    cv::Rect door = R(s.door);
    cv::rectangle(img_,
                  cv::Rect(door.x + door.width / 4, door.y + door.height / 8, door.width / 2,
                           door.height / 3),
                  Emit(s.display_glass, lit_display, s.display_lit), cv::FILLED);
    Fill(s.sign, Surf(s.sign_color));  // a lit sign glows in its letters, not its panel
    cv::Rect r = R(s.sign);
    DrawLogo(s, r);
    cv::Scalar glow =
        Luma(s.text_color) < 100 ? s.sign_color * 0.4 + cv::Scalar(150, 150, 150) : s.text_color;
    cv::Scalar text = Emit(s.text_color, glow, s.sign_lit);
    int baseline = 0;
    cv::Size size = cv::getTextSize(s.text, cv::FONT_HERSHEY_SIMPLEX, s.text_scale,
                                    s.text_thickness, &baseline);
    cv::Point org(r.x + r.height * 3 / 2 + (r.width - r.height * 3 / 2 - size.width) / 2,
                  r.y + (r.height + size.height) / 2);
    cv::putText(img_, s.text, org, cv::FONT_HERSHEY_SIMPLEX, s.text_scale, text, s.text_thickness,
                cv::LINE_AA);
    if (s.awning) DrawAwning(s, r);
  }

  void DrawLogo(const ShopFront& s, const cv::Rect& sign) {
    cv::Point c(sign.x + sign.height * 3 / 4, sign.y + sign.height / 2);
    int rad = std::max(2, sign.height * 2 / 5);
    cv::Scalar color = Emit(s.logo_color, s.logo_color, s.sign_lit);
    if (s.logo_shape == 0) {
      cv::circle(img_, c, rad, color, cv::FILLED, cv::LINE_AA);
      return;
    }
    std::vector<cv::Point> poly;
    if (s.logo_shape == 1) {
      poly = {{c.x, c.y - rad}, {c.x + rad, c.y + rad}, {c.x - rad, c.y + rad}};
    } else {
      poly = {{c.x, c.y - rad}, {c.x + rad, c.y}, {c.x, c.y + rad}, {c.x - rad, c.y}};
    }
    cv::fillConvexPoly(img_, poly, color, cv::LINE_AA);
  }

  void DrawAwning(const ShopFront& s, const cv::Rect& sign) {
    int top = sign.br().y;
    int depth = std::max(3, cvRound(l_.H(0.04)));
    int stripes = std::max(2, sign.width / std::max(4, cvRound(l_.H(0.03))));
    for (int i = 0; i < stripes; ++i) {
      int x0 = sign.x + sign.width * i / stripes;
      int x1 = sign.x + sign.width * (i + 1) / stripes;
      std::vector<cv::Point> poly = {
          {x0, top}, {x1, top}, {x1 + 1, top + depth}, {x0 - 1, top + depth}};
      cv::fillConvexPoly(img_, poly, Surf(i % 2 ? s.awning_b : s.awning_a));
    }
  }

  // Sidewalk, curb and road, drawn in perspective about this camera.
  void Ground() {
    int side_top = cvRound(l_.base);
    int curb = cvRound(l_.GroundRow(kCurbDepth));
    int gutter = cvRound(l_.GroundRow(kCurbDepth + 0.05));
    cv::rectangle(img_, cv::Point(0, side_top), cv::Point(l_.width, curb),
                  Surf(cv::Scalar(168, 170, 174)), cv::FILLED);
    cv::rectangle(img_, cv::Point(0, curb), cv::Point(l_.width, gutter),
                  Surf(cv::Scalar(195, 198, 200)), cv::FILLED);
    cv::rectangle(img_, cv::Point(0, gutter), cv::Point(l_.width, l_.height),
                  Surf(cv::Scalar(88, 88, 92)), cv::FILLED);
    cv::line(img_, cv::Point(0, gutter), cv::Point(l_.width, gutter), Surf(cv::Scalar(60, 60, 62)),
             1);
    // Paving joints recede towards the vanishing point straight ahead of the camera.
    double slab = l_.H(0.14);
    cv::Scalar joint = Surf(cv::Scalar(140, 142, 146));
    for (double x = std::floor((x_cam_ - l_.width) / slab) * slab; x < x_cam_ + l_.width;
         x += slab) {
      cv::line(img_, P(x, l_.base, 1.0), P(x, l_.base, kCurbDepth), joint, 1, cv::LINE_AA);
    }
    // Dashed centre line; moves faster than the facades when the camera moves.
    double period = l_.H(0.5);
    double y0 = l_.base, half = 0.035;
    cv::Scalar paint = Surf(cv::Scalar(225, 228, 230));
    for (double x = std::floor((x_cam_ - l_.width) / period) * period; x < x_cam_ + l_.width;
         x += period) {
      std::vector<cv::Point> dash = {
          P(x, y0, kLaneDepth - half), P(x + period * 0.5, y0, kLaneDepth - half),
          P(x + period * 0.5, y0, kLaneDepth + half), P(x, y0, kLaneDepth + half)};
      cv::fillConvexPoly(img_, dash, paint, cv::LINE_AA);
    }
  }

  void DrawTree(const Tree& t) {
    if (!Visible(t.x - l_.H(0.2), t.x + l_.H(0.2), kTreeDepth)) return;
    int trunk_w = std::max(2, cvRound(l_.H(0.022) * kTreeDepth));
    cv::Point foot = P(t.x, l_.base, kTreeDepth);
    cv::Point top = P(t.x, l_.base - l_.H(0.2), kTreeDepth);
    cv::rectangle(img_, cv::Point(foot.x - trunk_w / 2, top.y),
                  cv::Point(foot.x + trunk_w / 2, foot.y), Surf(t.trunk), cv::FILLED);
    for (size_t i = 0; i < t.crown.size(); ++i) {
      const cv::Vec3d& p = t.crown[i];
      cv::circle(img_, P(t.x + p[0], l_.base - p[1], kTreeDepth), cvRound(p[2] * kTreeDepth),
                 Surf(t.leaves[i]), cv::FILLED, cv::LINE_AA);
    }
  }

  void DrawLamp(double x) {
    double d = kLampDepth;
    if (!Visible(x - l_.H(0.1), x + l_.H(0.1), d)) return;
    cv::Scalar metal = Surf(cv::Scalar(55, 58, 60));
    cv::Point foot = P(x, l_.base, d);
    cv::Point top = P(x, l_.base - l_.H(0.36), d);
    cv::Point head = P(x + l_.H(0.06), l_.base - l_.H(0.34), d);
    int thick = std::max(2, cvRound(l_.H(0.01) * d));
    cv::line(img_, foot, top, metal, thick, cv::LINE_AA);
    cv::line(img_, top, cv::Point(head.x, top.y), metal, std::max(1, thick / 2), cv::LINE_AA);
    int rad = std::max(2, cvRound(l_.H(0.014) * d));
    cv::Scalar bulb = Emit(cv::Scalar(200, 210, 215), cv::Scalar(170, 235, 255), true);
    cv::ellipse(img_, head, cv::Size(rad * 2, rad), 0, 0, 360, bulb, cv::FILLED, cv::LINE_AA);
    if (light_.dusk) Glow(head, cv::Scalar(110, 190, 255));
  }

  // Adds light falling off from a point, for lamps at dusk.
  void Glow(cv::Point c, const cv::Scalar& color) {
    const cv::Mat& falloff = l_.glow;
    int radius = falloff.rows / 2;
    cv::Rect box = cv::Rect(c.x - radius, c.y - radius, falloff.cols, falloff.rows) &
                   cv::Rect(0, 0, img_.cols, img_.rows);
    for (int y = box.y; y < box.br().y; ++y) {
      cv::Vec3b* row = img_.ptr<cv::Vec3b>(y);
      const float* a = falloff.ptr<float>(y - (c.y - radius)) - (c.x - radius);
      for (int x = box.x; x < box.br().x; ++x) {
        if (a[x] <= 0) continue;
        for (int k = 0; k < 3; ++k)
          row[x][k] = cv::saturate_cast<uchar>(row[x][k] + a[x] * color[k]);
      }
    }
  }

  const Layout& l_;
  Lighting light_;
  double x_cam_;
  cv::Mat img_;
};

// ---------------------------------------------------------------------------------
// Queries: the same place at dusk (or on an overcast afternoon), from a slightly
// different viewpoint, with a camera that blurs and adds noise, and sometimes with
// something in the way.

void DrawCar(cv::Mat& img, const Layout& l, Random& rng, const Lighting& light) {
  static const std::array<cv::Scalar, 6> kPaint = {
      cv::Scalar(40, 40, 180), cv::Scalar(180, 90, 30),   cv::Scalar(220, 220, 220),
      cv::Scalar(30, 30, 30),  cv::Scalar(150, 150, 150), cv::Scalar(40, 150, 210)};
  cv::Scalar paint = Lit(light, rng.Jitter(rng.Pick(kPaint), 15));
  double len = rng.Uniform(l.H(0.55), l.H(0.7));
  double x0 = rng.Uniform(-len * 0.4, l.width - len * 0.6);
  double bottom = rng.Uniform(l.H(0.9), l.H(0.96));
  double body_h = l.H(0.1), cabin_h = l.H(0.08);
  cv::Point b0(cvRound(x0), cvRound(bottom - body_h)),
      b1(cvRound(x0 + len), cvRound(bottom - l.H(0.02)));
  std::vector<cv::Point> cabin = {{cvRound(x0 + len * 0.22), b0.y},
                                  {cvRound(x0 + len * 0.32), cvRound(b0.y - cabin_h)},
                                  {cvRound(x0 + len * 0.7), cvRound(b0.y - cabin_h)},
                                  {cvRound(x0 + len * 0.8), b0.y}};
  cv::fillConvexPoly(img, cabin, paint, cv::LINE_AA);
  int in = std::max(1, cvRound(l.H(0.015)));  // window inset from the cabin outline
  std::vector<cv::Point> glass = {{cabin[0].x + in, b0.y - 1},
                                  {cabin[1].x + in, cabin[1].y + in},
                                  {cabin[2].x - in, cabin[2].y + in},
                                  {cabin[3].x - in, b0.y - 1}};
  cv::fillConvexPoly(img, glass, Lit(light, cv::Scalar(70, 60, 50)), cv::LINE_AA);
  cv::rectangle(img, b0, b1, paint, cv::FILLED, cv::LINE_AA);
  int wheel = cvRound(l.H(0.04));
  for (double f : {0.2, 0.8}) {
    cv::Point c(cvRound(x0 + len * f), cvRound(bottom - wheel));
    cv::circle(img, c, wheel, cv::Scalar(25, 25, 25), cv::FILLED, cv::LINE_AA);
    cv::circle(img, c, wheel / 2, Lit(light, cv::Scalar(120, 120, 120)), cv::FILLED, cv::LINE_AA);
  }
}

void DrawPedestrian(cv::Mat& img, const Layout& l, Random& rng, const Lighting& light) {
  // One draw per statement: the order in which function arguments are evaluated is
  // unspecified, and the images must not depend on the compiler.
  cv::Scalar coat;
  for (int k = 0; k < 3; ++k) coat[k] = rng.Uniform(30, 160);
  coat = Lit(light, coat);
  cv::Scalar trousers = Lit(light, rng.Jitter(cv::Scalar(60, 45, 40), 15));
  cv::Scalar skin = Lit(light, rng.Jitter(cv::Scalar(120, 150, 190), 30));
  double x = rng.Uniform(l.H(0.05), l.width - l.H(0.05));
  double foot = rng.Uniform(l.GroundRow(1.05), l.GroundRow(1.25));
  double h = l.H(0.3) * (foot - l.horizon) / (l.base - l.horizon);  // nearer is taller
  int leg = std::max(1, cvRound(h * 0.05));
  for (double side : {-1.0, 1.0}) {
    cv::line(img, cv::Point(cvRound(x + side * h * 0.04), cvRound(foot - h * 0.45)),
             cv::Point(cvRound(x + side * h * 0.07), cvRound(foot)), trousers, leg, cv::LINE_AA);
  }
  cv::Point body(cvRound(x), cvRound(foot - h * 0.6));
  cv::ellipse(img, body, cv::Size(cvRound(h * 0.1), cvRound(h * 0.22)), 0, 0, 360, coat, cv::FILLED,
              cv::LINE_AA);
  cv::circle(img, cv::Point(body.x, cvRound(foot - h * 0.9)), cvRound(h * 0.075), skin, cv::FILLED,
             cv::LINE_AA);
}

// Gaussian pixel noise. Drawing a normal variate per pixel dominated the rendering
// time, so each pixel takes 12 random bits to index a table of rounded normal variates.
void AddNoise(cv::Mat& img, double sigma, Random& rng) {
  constexpr int kTableBits = 12;
  std::vector<int> table(1 << kTableBits);
  for (size_t i = 0; i < table.size(); i += 2) {  // Box-Muller gives pairs
    double r = sigma * std::sqrt(-2.0 * std::log(rng.Uniform(1e-12, 1.0)));
    double a = rng.Uniform(0.0, 2.0 * CV_PI);
    table[i] = cvRound(r * std::cos(a));
    table[i + 1] = cvRound(r * std::sin(a));
  }
  uint64_t state = rng.Bits();
  uint64_t bits = 0;
  int left = 0;
  for (int y = 0; y < img.rows; ++y) {
    uchar* p = img.ptr<uchar>(y);
    for (int x = 0; x < img.cols * img.channels(); ++x) {
      if (left == 0) bits = SplitMix64(state++), left = 64 / kTableBits;
      int v = p[x] + table[bits & ((1 << kTableBits) - 1)];
      bits >>= kTableBits, --left;
      p[x] = static_cast<uchar>(std::clamp(v, 0, 255));
    }
  }
}

// Zoom about a point a little above or below the image centre: the camera a little
// nearer, and higher or lower, than on the database traversal. dy is in [-1, 1] of the
// room the zoom leaves (a crop and resize is much cheaper than warpAffine).
cv::Mat ChangeViewpoint(const cv::Mat& img, double zoom, double dy) {
  int w = cvRound(img.cols / zoom), h = cvRound(img.rows / zoom);
  int y = cvRound((img.rows - h) / 2.0 * (1 + dy));
  cv::Mat out;
  cv::resize(img(cv::Rect((img.cols - w) / 2, y, w, h)), out, img.size(), 0, 0, cv::INTER_LINEAR);
  return out;
}

// Per-channel gains through a lookup table (cv::multiply by a Scalar goes via doubles).
void WhiteBalance(cv::Mat& img, const cv::Scalar& gain) {
  cv::Mat lut(1, 256, CV_8UC3);
  for (int v = 0; v < 256; ++v) {
    for (int k = 0; k < 3; ++k) lut.at<cv::Vec3b>(v)[k] = cv::saturate_cast<uchar>(v * gain[k]);
  }
  cv::LUT(img, lut, img);
}

cv::Mat MakeQuery(const Scene& scene, const Layout& l, const SyntheticOptions& o, int index) {
  Random rng(StreamSeed(o.seed, 1000 + static_cast<uint64_t>(index)));
  Lighting dusk;
  dusk.dusk = o.query_dusk;
  dusk.overcast = !o.query_dusk;
  dusk.gain = o.query_brightness * rng.Uniform(0.9, 1.1);
  // Ambient light after sunset is bluish; a late afternoon is warmer.
  dusk.tint = o.query_dusk ? cv::Scalar(1.0, 0.92, 0.85) : cv::Scalar(0.86, 0.95, 1.04);
  double shift = rng.Uniform(-o.query_max_shift_px, o.query_max_shift_px);
  cv::Mat img = Painter(l, dusk, index * l.step + shift).Paint(scene);
  double zoom = rng.Uniform(1.0, o.query_max_zoom);
  double dy = rng.Uniform(-1.0, 1.0);
  if (zoom > 1.0) img = ChangeViewpoint(img, zoom, dy);
  if (rng.Chance(o.query_transient_probability)) DrawPedestrian(img, l, rng, dusk);
  if (rng.Chance(o.query_transient_probability)) DrawCar(img, l, rng, dusk);
  // White balance of the query camera: warmer or bluer.
  double amount = rng.Uniform(0.05, 0.15);
  cv::Scalar balance = rng.Chance(0.5) ? cv::Scalar(1 - amount, 1, 1 + amount)
                                       : cv::Scalar(1 + amount, 1, 1 - amount);
  WhiteBalance(img, balance);
  double sigma = o.query_blur_sigma * rng.Uniform(0.7, 1.3);
  if (sigma > 0.05) cv::GaussianBlur(img, img, cv::Size(), sigma);
  if (o.query_noise_std > 0) AddNoise(img, o.query_noise_std, rng);
  return img;
}

std::string PlaceName(const char* folder, int index) {
  char name[64];
  std::snprintf(name, sizeof(name), "%s/place_%04d.png", folder, index);
  return name;
}

template <typename T>
void CheckRange(const char* field, T value, T lo, T hi) {
  VPR_CHECK(value >= lo && value <= hi, "SyntheticOptions.", field, " must be in [", lo, ", ", hi,
            "], got ", value);
}

}  // namespace

void SyntheticOptions::Check() const {
  CheckRange("num_places", num_places, 1, 20000);
  CheckRange("height", height, 32, 4096);
  CheckRange("width", width, 32, 4096);
  CheckRange("query_brightness", query_brightness, 0.05, 2.0);
  CheckRange("query_max_shift_px", query_max_shift_px, 0, width / 2);
  CheckRange("query_noise_std", query_noise_std, 0.0, 100.0);
  VPR_CHECK_USAGE(std::isfinite(spacing_m) && spacing_m > 0 && spacing_m <= 1e4,
            "SyntheticOptions.spacing_m must be in (0, 10000] metres, got ", spacing_m);
  CheckRange("step_fraction", step_fraction, 0.01, 2.0);
  CheckRange("query_max_zoom", query_max_zoom, 1.0, 1.5);
  CheckRange("query_transient_probability", query_transient_probability, 0.0, 1.0);
  CheckRange("query_blur_sigma", query_blur_sigma, 0.0, 10.0);
}

SyntheticDataset MakeSyntheticRoute(const SyntheticOptions& options) {
  options.Check();
  auto start = std::chrono::steady_clock::now();
  Layout layout = MakeLayout(options);
  Random rng(StreamSeed(options.seed, 0));
  Scene scene = MakeScene(layout, rng);
  SyntheticDataset out;
  out.database.resize(options.num_places);
  out.queries.resize(options.num_places);
  cv::parallel_for_(cv::Range(0, options.num_places), [&](const cv::Range& range) {
    for (int i = range.start; i < range.end; ++i) {
      double easting = i * options.spacing_m;
      out.database[i] = {PlaceName("database", i),
                         Painter(layout, Lighting{}, i * layout.step).Paint(scene), easting, 0.0};
      out.queries[i] = {PlaceName("queries", i), MakeQuery(scene, layout, options, i), easting,
                        0.0};
    }
  });
  Log().debug("rendered {} synthetic places in {:.3f} s", options.num_places,
              std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  return out;
}

void WriteSyntheticDataset(const SyntheticDataset& dataset, const std::string& dir) {
  VPR_CHECK(!dir.empty(), "WriteSyntheticDataset: the output folder must not be empty");
  auto write_images = [&](const std::vector<SyntheticImage>& images) {
    for (const SyntheticImage& image : images) {
      VPR_CHECK(!image.bgr.empty() && image.bgr.type() == CV_8UC3, "WriteSyntheticDataset: image '",
                image.name, "' must be 8-bit BGR");
      std::vector<uchar> png;
      VPR_CHECK(cv::imencode(".png", image.bgr, png), "cannot encode '", image.name, "' as PNG");
      WriteFileAtomic(dir + "/" + image.name, std::string(png.begin(), png.end()));
    }
  };
  write_images(dataset.database);
  write_images(dataset.queries);
  WriteFileAtomic(dir + "/positions.csv", [&](std::ostream& out) {
    out << "name,easting,northing\n" << std::setprecision(12);
    for (const auto* images : {&dataset.database, &dataset.queries}) {
      for (const SyntheticImage& image : *images) {
        out << image.name << ',' << image.easting << ',' << image.northing << '\n';
      }
    }
  });
  Log().info("wrote {} database and {} query images to {}", dataset.database.size(),
             dataset.queries.size(), dir);
}

}  // namespace vpr
