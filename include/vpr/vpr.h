// vpr: visual place recognition with NetVLAD, as a C++ library.
//   vpr::RecognizerOptions options; options.model = "model.pth";
//   vpr::PlaceRecognizer rec(options);                 // images -> descriptors
//   vpr::PlaceDatabase db(rec.dim());                  // descriptors -> nearest places
// Only the standard library and OpenCV's cv::Mat appear here; errors are vpr::Error.
#pragma once

#include "vpr/error.h"
#include "vpr/place_database.h"
#include "vpr/place_recognizer.h"
