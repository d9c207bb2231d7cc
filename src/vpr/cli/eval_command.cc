// `vpr eval`: a model on a dataset in any supported format.
#include "vpr/app/descriptor_cache.h"
#include "vpr/app/eval.h"
#include "vpr/cli/commands.h"
#include "vpr/cli/eval_summary.h"
#include "vpr/cli/flags.h"
#include "vpr/cli/parse_flags.h"
#include "vpr/data/load_dataset.h"
#include "vpr/dist/sharded_extract.h"
#include "vpr/eval/dataset_doctor.h"
#include "vpr/util/logging.h"

namespace vpr {

int RunEvalCommand(int argc, char** argv) {
  CLI::App app("Evaluate a model on a dataset: --dataset FILE [--root DIR] (NetVLAD/HEAPUtil .mat, Patch-NetVLAD\n"
               ".npz, CSV, @UTM@ folders) or the frame-aligned form --db DIR --queries DIR --frame-tolerance T\n"
               "(the i-th sorted image of both folders is the same place). Checks the dataset first (as\n"
               "`vpr doctor`), describes database and queries (reusing cached descriptors when model and images\n"
               "are unchanged), searches the top k and prints recall@N. Writes into OUT: metrics.json,\n"
               "predictions.json, submission.json, pairs.txt (hloc), report.html, database.npy and queries.npy\n"
               "with their .names.txt. Unreadable images are skipped and reported; a query without a descriptor\n"
               "is a miss. --rerank N reorders each query's top N by geometric verification (--verify-*).\n"
               "With --world-size N (or torchrun's RANK/WORLD_SIZE) every rank describes its share of the\n"
               "images and rank 0 scores and writes the same files one process writes.",
               "vpr eval");
  std::string model_path, recall_at = "1,5,10,20";
  bool no_cache = false;
  ModelFlagBinding model_flags;
  ImageFlagBinding image_flags;
  DatasetFlagBinding dataset_flags;
  EvalOptions options;
  options.cache_dir = DefaultCacheDir();
  app.add_option("--model", model_path, "checkpoint, pytorch-NetVlad run folder, or backbone file")->required();
  dataset_flags.Bind(app);
  app.add_option("--out", options.out_dir, "output folder")->required();
  app.add_option("--top-k", options.top_k, "database images retrieved per query")->capture_default_str();
  app.add_option("--recall-at", recall_at, "N of recall@N, comma-separated, each <= --top-k")->capture_default_str();
  app.add_option("--batch-size", options.extract.batch_size, "images per forward pass (same-size images only)")
      ->capture_default_str();
  app.add_option("--cache-dir", options.cache_dir, "descriptor cache ($VPR_CACHE_DIR, else ~/.cache/vpr)")
      ->capture_default_str();
  app.add_flag("--no-cache", no_cache, "always run the network; neither read nor write the cache");
  app.add_option("--index", options.index.factory,
                 "FAISS factory string: Flat (exact; default), IVF1024,Flat, HNSW32, PQ64, IVF256,PQ32, ...")
      ->capture_default_str();
  app.add_option("--metric", options.index.metric, "l2 or ip (inner product)")->capture_default_str();
  app.add_option("--nprobe", options.index.nprobe, "IVF lists visited per query (0 = faiss default)")
      ->capture_default_str();
  app.add_option("--pca-dims", options.pca_dims,
                 "also report recall against descriptor size, PCA-whitened on the database, e.g. 0,4096,512,128 "
                 "(0 = full size)")
      ->delimiter(',');
  app.add_option("--report-queries", options.report.sample_queries, "queries shown in report.html")
      ->capture_default_str();
  app.add_option("--rerank", options.rerank,
                 "re-rank each query's top N database images by geometric verification: of those within "
                 "--rerank-margin of the top-1's distance, verified ones first, by inliers, then the rest in "
                 "retrieval order (0 = off; at most --top-k); metrics.json's \"rerank\" holds recall@N before and "
                 "after")
      ->capture_default_str();
  app.add_option("--rerank-margin", options.rerank_margin,
                 "only candidates whose distance is within this much of the top-1's (squared L2 of unit "
                 "descriptors, 0-4; 4 = all of the top N) are reordered by verification")
      ->capture_default_str();
  BindVerifierFlags(app, options.verifier);
  model_flags.Bind(app);
  image_flags.Bind(app);
  BindRuntimeFlags(app, options.extract.runtime);
  DistFlagBinding dist_flags;
  dist_flags.Bind(app);
  VPR_PARSE_FLAGS(app, argc, argv);
  const DistOptions dist = dist_flags.Resolve();

  options.extract.resize = image_flags.Resolve();
  options.recall_at = ParseRecallAt(recall_at);
  if (no_cache) options.cache_dir.clear();
  options.Check();
  const ModelFlags flags = model_flags.Resolve();
  Dataset dataset = LoadDataset(dataset_flags.Resolve());
  CheckDatasetBeforeUse(dataset);
  LoadedModel loaded = LoadModel(model_path, flags);
  image_flags.AdoptCheckpointSize(loaded, &options.extract.resize);
  options.model_file = loaded.path;
  Log().info("eval: {} database and {} query images, positives {}", dataset.database.size(), dataset.queries.size(),
             dataset.HasExplicitPositives()
                 ? std::string("as the file lists them")
                 : fmt::format("within {} {}", dataset.positive_radius, dataset.position_unit));
  EvalResult result;
  if (dist.enabled()) {
    // Every rank describes its share of database and queries (no cache); rank 0 scores
    // and writes exactly what one process writes.
    ProcessGroup group(dist);
    if (group.rank() == 0) CheckEvalFolder(options.out_dir);
    ExtractOptions extract = options.extract;
    extract.label = "eval: database";
    ExtractResult db = ShardedExtract(loaded.model, dataset.database, extract, group);
    extract.label = "eval: queries";
    ExtractResult q = ShardedExtract(loaded.model, dataset.queries, extract, group);
    if (group.rank() != 0) {
      Log().info("rank {}: described {} database and {} query images; rank 0 writes {}", group.rank(),
                 db.paths.size(), q.paths.size(), options.out_dir);
      return kExitOk;
    }
    result = EvaluateDescribed(loaded.model, dataset, options, db, q);
    WriteEvalFolder(options, dataset, result, db, q);
  } else {
    result = RunEval(loaded.model, dataset, options);
  }
  PrintEvalSummary(result);
  return result.run.failed_queries.size() == dataset.queries.size() ? kExitFailure : kExitOk;
}

}  // namespace vpr
