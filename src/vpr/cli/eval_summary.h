// What `vpr eval` and `vpr demo` print at the end: recall@N (with counts), what
// re-ranking did, the top-1 precision-recall summary and the recall-vs-dimension table,
// all from the typed result.
#pragma once

#include "vpr/app/eval.h"

namespace vpr {

void PrintEvalSummary(const EvalResult& result);

}  // namespace vpr
