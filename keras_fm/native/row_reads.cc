// A table's rows at a batch's ids, prefetching the rows ahead.
//
// TensorFlow's ResourceGather copies one row after another. At 1e7 ids the
// rows of a batch are random rows of a table far larger than the caches,
// so each copy waits on memory: for DeepFM, the two gathers of a step (the
// first- and second-order tables) took 3.2 ms of CPU at 1e7 ids against 0.5
// at 1e4. Here the row a few ids ahead is prefetched while the current one
// is copied. Built on first use by keras_fm.native.build;
// keras_fm/native/row_reads.py documents the op.
#define EIGEN_USE_THREADS

#include <cstdint>
#include <cstring>

#include "tensorflow/core/framework/op.h"
#include "tensorflow/core/framework/op_kernel.h"
#include "tensorflow/core/framework/resource_var.h"
#include "tensorflow/core/framework/shape_inference.h"
#include "tensorflow/core/kernels/training_op_helpers.h"
#include "tensorflow/core/util/work_sharder.h"

namespace tensorflow {
namespace {

using CPUDevice = Eigen::ThreadPoolDevice;

// How many ids ahead of the row being copied that row is prefetched. DeepFM
// at 1e7 ids, against TensorFlow's gather, in one process with epochs
// alternating (6 each): 16 ids 1.03-1.08x in three runs, 8 ids 1.02x, 32
// ids 1.04x. Only a row's first cache line is prefetched (all of a row of
// up to 16 floats, which the timings used).
constexpr int64_t kPrefetchDistance = 16;

template <typename Index>
class GatherRowsOp : public OpKernel {
 public:
  explicit GatherRowsOp(OpKernelConstruction* ctx) : OpKernel(ctx) {}

  void Compute(OpKernelContext* ctx) override {
    core::RefCountPtr<Var> variable;
    OP_REQUIRES_OK(ctx, LookupResource(ctx, HandleFromInput(ctx, 0), &variable));
    OP_REQUIRES_OK(ctx, EnsureSparseVariableAccess<CPUDevice, float>(
                            ctx, variable.get()));
    tf_shared_lock lock(*variable->mu());
    const Tensor& table = *variable->tensor();
    OP_REQUIRES(ctx, table.dtype() == DT_FLOAT && table.dims() >= 1,
                absl::InvalidArgumentError(
                    "the table must be float32 with at least one dimension"));
    const Tensor& ids = ctx->input(1);
    const auto flat_ids = ids.flat<Index>();
    const int64_t count = flat_ids.size(), num_rows = table.dim_size(0);
    for (int64_t i = 0; i < count; ++i) {
      OP_REQUIRES(ctx, flat_ids(i) >= 0 && flat_ids(i) < num_rows,
                  absl::InvalidArgumentError(absl::StrCat(
                      "indices[", i, "] = ", flat_ids(i), " is not in [0, ",
                      num_rows, ")")));
    }
    TensorShape shape = ids.shape();
    for (int d = 1; d < table.dims(); ++d) shape.AddDim(table.dim_size(d));
    Tensor* rows = nullptr;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(0, shape, &rows));
    const int64_t width = num_rows ? table.NumElements() / num_rows : 0;
    const float* source = table.flat<float>().data();
    float* target = rows->flat<float>().data();
    const Index* id = flat_ids.data();
    auto work = [&](int64_t start, int64_t end) {
      for (int64_t i = start; i < end; ++i) {
        if (i + kPrefetchDistance < end) {
          __builtin_prefetch(source + id[i + kPrefetchDistance] * width);
        }
        std::memcpy(target + i * width, source + id[i] * width,
                    width * sizeof(float));
      }
    };
    auto* pool = ctx->device()->tensorflow_cpu_worker_threads();
    Shard(pool->num_threads, pool->workers, count, 16 * width, work);
  }
};

// The ids' shape followed by the table's row shape, where the handle
// carries the table's shape (as ResourceGather's shape function does).
absl::Status GatherRowsShape(shape_inference::InferenceContext* c) {
  const auto* handle = c->input_handle_shapes_and_types(0);
  if (handle == nullptr || handle->empty()) {
    c->set_output(0, c->UnknownShape());
    return absl::OkStatus();
  }
  shape_inference::ShapeHandle row, out;
  TF_RETURN_IF_ERROR(c->Subshape((*handle)[0].shape, 1, &row));
  TF_RETURN_IF_ERROR(c->Concatenate(c->input(1), row, &out));
  c->set_output(0, out);
  return absl::OkStatus();
}

}  // namespace

REGISTER_OP("KerasFmGatherRows")
    .Input("table: resource")
    .Input("ids: Tindices")
    .Output("rows: float")
    .Attr("Tindices: {int32, int64}")
    .SetShapeFn(GatherRowsShape);

REGISTER_KERNEL_BUILDER(Name("KerasFmGatherRows")
                            .Device(DEVICE_CPU)
                            .TypeConstraint<int32_t>("Tindices"),
                        GatherRowsOp<int32_t>);
REGISTER_KERNEL_BUILDER(Name("KerasFmGatherRows")
                            .Device(DEVICE_CPU)
                            .TypeConstraint<int64_t>("Tindices"),
                        GatherRowsOp<int64_t>);

}  // namespace tensorflow
