// vpr: visual place recognition with NetVLAD, as a C++ library.
//   vpr::RecognizerOptions options; options.model = "model.pth";
//   vpr::PlaceRecognizer rec(options);                 // images -> descriptors
//   vpr::PlaceDatabase db(rec.dim());                  // descriptors -> nearest places
//   vpr::LoopDetector loops(recognizer_ptr);           // frames -> loop closures
//   vpr::GeometricVerifier verifier;                   // image pairs -> RANSAC inliers
// Only the standard library and OpenCV's cv::Mat appear here; errors are vpr::Error.
#pragma once

#include "vpr/error.h"
#include "vpr/geometric_verifier.h"
#include "vpr/loop_detector.h"
#include "vpr/place_database.h"
#include "vpr/place_recognizer.h"
