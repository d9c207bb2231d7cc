#include "vpr/cli/flags.h"

#include "vpr/util/logging.h"

namespace vpr {

void ModelFlagBinding::Bind(CLI::App& app) {
  app.add_option("--backbone", flags.arch, "vgg16 | mobilenet_v2 | resnet18 | resnet50 (default: inferred from the file)");
  app.add_option("--cut", flags.cut,
                 "encoder layers kept (0 = inferred / default: vgg16 29 = conv5_3, mobilenet_v2 17, resnet 8 = layer4, 7 = layer3)")
      ->capture_default_str();
  app.add_option("--clusters", flags.clusters, "NetVLAD clusters K (0 = inferred; 64 for a backbone-only file)")
      ->capture_default_str();
  app.add_option("--pooling", flags.pooling,
                 "netvlad | avg | max (global average / max pooling, the baselines); default: the file's, else netvlad")
      ->check(CLI::IsMember({"netvlad", "avg", "max"}));
  vladv2_opt = app.add_flag("--vladv2", vladv2, "NetVLAD with assignment bias (default: inferred; off for backbone files)");
  app.add_option("--normalize", flags.normalize,
                 "input normalisation: imagenet (torchvision mean/std) or tf (mean=std=0.5, [-1,1]); "
                 "default: what a vpr checkpoint says, else imagenet")
      ->check(CLI::IsMember({"imagenet", "tf"}));
  tf_padding_opt = app.add_flag("--tf-padding", tf_padding,
                                "TensorFlow SAME padding on stride-2 convolutions (mobilenet_v2; the ImageNet weights in ../shared need it)");
  app.add_option("--seed", flags.seed, "seed of fresh NetVLAD centroids for backbone-only files")->capture_default_str();
}

ModelFlags ModelFlagBinding::Resolve() const {
  ModelFlags out = flags;
  if (vladv2_opt->count() > 0) out.vladv2 = vladv2;
  if (tf_padding_opt->count() > 0) out.tf_padding = tf_padding;
  out.Check();  // a wrong command line is reported before any file is read
  return out;
}

void ImageFlagBinding::Bind(CLI::App& app) {
  resize_opt = app.add_option("--resize", resize,
                              "resize every image to HEIGHTxWIDTH, e.g. 480x640 (default: the size the checkpoint "
                              "records, else native size)");
  max_side_opt = app.add_option("--max-side", options.max_side,
                                "resize so that the longer side has N pixels (0 = native size; default: the size the "
                                "checkpoint records, else native size)");
  app.add_option("--max-pixels", options.max_pixels,
                 "images whose header declares more pixels are refused before decoding (reported and skipped)")
      ->capture_default_str();
  app.add_flag("--full-decode", full_decode,
               "decode JPEGs at full size before resizing (default: at 1/2, 1/4 or 1/8 scale when that is still twice "
               "the output size: faster on large photos, nearly the same descriptors)");
}

ResizeOptions ImageFlagBinding::Resolve() {
  if (!resize.empty()) options.ParseFixed(resize);
  options.reduced_decode = !full_decode;
  options.Check();
  return options;
}

void ImageFlagBinding::AdoptCheckpointSize(const LoadedModel& loaded, ResizeOptions* resize) const {
  const std::optional<ResizeOptions> recorded = RecordedResize(loaded.info);
  if (!recorded || recorded->SameSize(*resize)) return;
  if (resize_opt->count() > 0 || max_side_opt->count() > 0) {
    Log().warn("the checkpoint was made at {}; running at {} as asked (descriptors and recall depend on the size)",
               recorded->Describe(), resize->Describe());
    return;
  }
  resize->height = recorded->height;
  resize->width = recorded->width;
  resize->max_side = recorded->max_side;
  Log().info("images at {}, the size the checkpoint records (--max-side N or --resize HxW to change it)",
             resize->Describe());
}

void DatasetFlagBinding::Bind(CLI::App& app) {
  app.add_option("--dataset", source.file,
                 "ground truth: .mat/.db (NetVLAD dbStruct or HEAPUtil), .npz (Patch-NetVLAD), .csv "
                 "(path,easting,northing | path,lat,lon; split), a folder of database/ and queries/ @UTM@ images, "
                 "or a VPR-Bench .npy (with --db and --queries)");
  app.add_option("--root", source.root, "folder the dataset's image names are relative to (default: the file's folder)");
  app.add_option("--db", source.database_dir,
                 "frame-aligned form or VPR-Bench .npy: database images folder (index i = its i-th sorted image)");
  app.add_option("--queries", source.query_dir,
                 "frame-aligned form (as many images as --db) or VPR-Bench .npy: query images folder");
  app.add_option("--frame-tolerance", source.frame_tolerance,
                 "frame-aligned form: frames apart a database image may be and still be correct");
  app.add_option("--radius", source.radius, "positive radius in metres (0 = the file's; 25 for CSV and @UTM@ folders)")
      ->capture_default_str();
}

DatasetSource DatasetFlagBinding::Resolve() const {
  source.Check();
  return source;
}

void BindRuntimeFlags(CLI::App& app, RuntimeOptions& runtime) {
  app.add_option("--device", runtime.device, "cpu or cuda[:N]")->capture_default_str();
  app.add_option("--threads", runtime.threads,
                 "CPU threads of the network, FAISS and BLAS (0 = every CPU this process may use: affinity and cgroup "
                 "quota)")
      ->capture_default_str();
  app.add_option("--precision", runtime.precision,
                 "fp32 (exactly PyTorch's numbers) | bf16 (backbone in bf16 through oneDNN, NetVLAD in fp32; fast on "
                 "CPUs with AVX512_BF16/AMX) | fp16 (CUDA) | auto (bf16 where the hardware has it, else fp32)")
      ->capture_default_str()
      ->check(CLI::IsMember({"fp32", "bf16", "fp16", "auto"}));
}

void DistFlagBinding::Bind(CLI::App& app) {
  master = options.master_addr + ":" + std::to_string(options.master_port);
  app.add_option("--world-size", options.world_size, "processes working together (WORLD_SIZE; 1 = alone)")
      ->capture_default_str();
  app.add_option("--rank", options.rank, "this process's rank, 0..world-size-1 (RANK)")->capture_default_str();
  app.add_option("--master", master, "HOST:PORT of rank 0's rendezvous (MASTER_ADDR:MASTER_PORT)")
      ->capture_default_str();
  app.add_option("--dist-timeout", options.timeout_s, "seconds a rank waits for the others before failing")
      ->capture_default_str();
}

DistOptions DistFlagBinding::Resolve() {
  options.ParseMaster(master);
  options.Check();
  return options;
}

void BindRecognizerFlags(CLI::App& app, RecognizerOptions& r) {
  app.add_option("--model", r.model, "checkpoint, pytorch-NetVlad run folder, or torchvision backbone file")
      ->required();
  app.add_option("--max-side", r.max_side, "resize the longer side to N pixels (0 = the checkpoint's size)")
      ->capture_default_str();
  app.add_option("--threads", r.threads, "CPU threads (0 = every CPU this process may use)")->capture_default_str();
  app.add_option("--precision", r.precision, "fp32 | bf16 | fp16 (CUDA) | auto")
      ->capture_default_str()
      ->check(CLI::IsMember({"fp32", "bf16", "fp16", "auto"}));
  app.add_option("--device", r.device, "cpu | cuda[:N]")->capture_default_str();
}

void BindVerifierFlags(CLI::App& app, VerifierOptions& v) {
  app.add_option("--verify-features", v.features, "local features of geometric verification: orb | sift")
      ->capture_default_str()
      ->check(CLI::IsMember({"orb", "sift"}));
  app.add_option("--verify-max-features", v.max_features, "keypoints kept per image")->capture_default_str();
  app.add_option("--verify-max-side", v.max_side, "longer side of the image features are detected on (0 = native)")
      ->capture_default_str();
  app.add_option("--verify-ratio", v.ratio, "Lowe's ratio test (1 = off)")->capture_default_str();
  app.add_option("--verify-model", v.model, "RANSAC model: fundamental | homography")
      ->capture_default_str()
      ->check(CLI::IsMember({"fundamental", "homography"}));
  app.add_option("--verify-threshold", v.ransac_threshold, "RANSAC inlier distance in pixels")->capture_default_str();
  app.add_option("--verify-iterations", v.ransac_iterations, "RANSAC iterations")->capture_default_str();
  app.add_option("--verify-min-inliers", v.min_inliers, "inliers an image pair needs to be verified")
      ->capture_default_str();
  app.add_option("--verify-min-inlier-ratio", v.min_inlier_ratio, "... and this fraction of its tentative matches")
      ->capture_default_str();
}

}  // namespace vpr
