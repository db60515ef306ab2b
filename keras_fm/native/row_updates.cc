// Row-sparse optimizer updates in one pass over a batch's rows.
//
// TensorFlow has no sparse Adam kernel, and its sparse Adagrad puts epsilon
// outside the square root (Keras's inside). Composed from TensorFlow's ops,
// a row-sparse update sums the gradient rows of each distinct row
// (UnsortedSegmentSum), gathers the table and each slot at those rows, and
// scatters each back: for Adam six random reads or writes of tables of
// millions of rows. Given the distinct rows (Unique, which TensorFlow runs
// as soon as the batch's ids are known), each op here sums the gradient
// rows and updates the table and its slots row by row, reading each row
// once and prefetching the rows ahead. Built on first use by
// keras_fm.native.build; keras_fm/native/__init__.py documents the ops.
#define EIGEN_USE_THREADS

#include <cmath>
#include <cstdint>
#include <vector>

#include "tensorflow/core/framework/common_shape_fns.h"
#include "tensorflow/core/framework/op.h"
#include "tensorflow/core/framework/op_kernel.h"
#include "tensorflow/core/framework/shape_inference.h"
#include "tensorflow/core/kernels/training_op_helpers.h"
#include "tensorflow/core/util/work_sharder.h"

namespace tensorflow {
namespace {

using CPUDevice = Eigen::ThreadPoolDevice;

// How far ahead of the row being updated its successors are prefetched.
constexpr int64_t kPrefetchDistance = 8;

// Per distinct row, the sum of its gradient rows, added in order of
// appearance (as UnsortedSegmentSum adds them). `positions[i]` names the
// distinct row of gradient row i (Unique's second output).
absl::Status SumRows(const Tensor& positions, const Tensor& values,
                     int64_t width, int64_t count, std::vector<float>* sums) {
  const auto slot = positions.flat<int32_t>();
  const float* grad = values.flat<float>().data();
  sums->assign(count * width, 0.0f);
  for (int64_t i = 0; i < slot.size(); ++i) {
    if (slot(i) < 0 || slot(i) >= count) {
      return absl::InvalidArgumentError(absl::StrCat(
          "positions[", i, "] = ", slot(i), " is not in [0, ", count, ")"));
    }
    float* sum = sums->data() + slot(i) * width;
    const float* row = grad + i * width;
    for (int64_t j = 0; j < width; ++j) sum[j] += row[j];
  }
  return absl::OkStatus();
}

template <typename Index>
absl::Status TableRows(const Tensor& rows, int64_t num_rows,
                       std::vector<int64_t>* out) {
  const auto ids = rows.flat<Index>();
  out->resize(ids.size());
  for (int64_t i = 0; i < ids.size(); ++i) {
    (*out)[i] = static_cast<int64_t>(ids(i));
    if ((*out)[i] < 0 || (*out)[i] >= num_rows) {
      return absl::InvalidArgumentError(absl::StrCat(
          "rows[", i, "] = ", (*out)[i], " is not in [0, ", num_rows, ")"));
    }
  }
  return absl::OkStatus();
}

// What the ops share: the inputs' checks, the variables' locks, the rows'
// sums, and a parallel loop over the rows with prefetching. The rows must be
// distinct (Unique's first output, as keras_fm.native passes them): threads
// update different rows in place.
class RowUpdateOp : public OpKernel {
 public:
  RowUpdateOp(OpKernelConstruction* ctx, int num_variables)
      : OpKernel(ctx), num_variables_(num_variables) {}

  void Compute(OpKernelContext* ctx) override {
    std::vector<int> inputs(num_variables_);
    for (int i = 0; i < num_variables_; ++i) inputs[i] = i;
    auto locks = MaybeLockVariableInputMutexesInOrder<CPUDevice, float>(
        ctx, /*do_lock=*/true, /*sparse=*/true, inputs);
    std::vector<Tensor> variables(num_variables_);
    for (int i = 0; i < num_variables_; ++i) {
      OP_REQUIRES_OK(ctx, GetInputTensorFromVariable<CPUDevice, float>(
                              ctx, i, /*lock_held=*/true, /*sparse=*/true,
                              &variables[i]));
      OP_REQUIRES(ctx, variables[i].IsSameSize(variables[0]),
                  absl::InvalidArgumentError(absl::StrCat(
                      "variable ", i, " has shape ",
                      variables[i].shape().DebugString(), ", variable 0 ",
                      variables[0].shape().DebugString())));
    }
    const Tensor& values = ctx->input(ctx->num_inputs() - 3);
    const Tensor& positions = ctx->input(ctx->num_inputs() - 2);
    const Tensor& rows = ctx->input(ctx->num_inputs() - 1);
    const Tensor& table = variables[0];
    OP_REQUIRES(ctx, table.dims() >= 1 && rows.dims() == 1 &&
                         positions.dims() == 1,
                absl::InvalidArgumentError(
                    "the table needs rows, rows and positions one dimension"));
    const int64_t num_rows = table.dim_size(0);
    const int64_t width = num_rows ? table.NumElements() / num_rows : 0;
    OP_REQUIRES(ctx, values.NumElements() == positions.NumElements() * width,
                absl::InvalidArgumentError(absl::StrCat(
                    "values of shape ", values.shape().DebugString(),
                    " are not one row of ", width, " per position of ",
                    positions.NumElements())));
    std::vector<int64_t> table_rows;
    OP_REQUIRES_OK(ctx, rows.dtype() == DT_INT32
                            ? TableRows<int32_t>(rows, num_rows, &table_rows)
                            : TableRows<int64_t>(rows, num_rows, &table_rows));
    const int64_t count = table_rows.size();
    std::vector<float> sums;
    OP_REQUIRES_OK(ctx, SumRows(positions, values, width, count, &sums));
    std::vector<float*> data(num_variables_);
    for (int i = 0; i < num_variables_; ++i) {
      data[i] = variables[i].flat<float>().data();
    }
    std::vector<float> scalars;
    for (int i = num_variables_; i < ctx->num_inputs() - 3; ++i) {
      scalars.push_back(ctx->input(i).scalar<float>()());
    }
    auto work = [&](int64_t start, int64_t end) {
      for (int64_t r = start; r < end; ++r) {
        if (r + kPrefetchDistance < end) {
          const int64_t ahead = table_rows[r + kPrefetchDistance] * width;
          for (float* array : data) __builtin_prefetch(array + ahead, 1);
        }
        const int64_t offset = table_rows[r] * width;
        UpdateRow(scalars.data(), data, offset, sums.data() + r * width,
                  width);
      }
    };
    auto* pool = ctx->device()->tensorflow_cpu_worker_threads();
    Shard(pool->num_threads, pool->workers, count, 64 * width, work);
  }

 protected:
  // Updates the row at `offset` of each variable from its summed gradient;
  // `scalars` are the op's float inputs after the variables, in order.
  virtual void UpdateRow(const float* scalars, const std::vector<float*>& data,
                         int64_t offset, const float* grad,
                         int64_t width) const = 0;

 private:
  const int num_variables_;
};

// The gradient of an L1/L2 penalty at x, as keras_fm.optimizers.row_penalties
// computes it: (0 + l2_twice * x) + l1 * sign(x), each term only when set.
inline float Penalized(float grad, float x, float l1, float l2_twice) {
  if (l1 == 0.0f && l2_twice == 0.0f) return grad;
  float penalty = 0.0f;
  if (l2_twice != 0.0f) penalty += l2_twice * x;
  if (l1 != 0.0f) penalty += l1 * static_cast<float>((x > 0) - (x < 0));
  return grad + penalty;
}

// Inputs: table, m, v, alpha, one_minus_beta_1, one_minus_beta_2, epsilon,
// l1, l2_twice, values, positions, rows.
class SparseRowAdamOp : public RowUpdateOp {
 public:
  explicit SparseRowAdamOp(OpKernelConstruction* ctx) : RowUpdateOp(ctx, 3) {}

 protected:
  void UpdateRow(const float* scalars, const std::vector<float*>& data,
                 int64_t offset, const float* grad,
                 int64_t width) const override {
    const float alpha = scalars[0], c1 = scalars[1], c2 = scalars[2],
                epsilon = scalars[3], l1 = scalars[4], l2_twice = scalars[5];
    float* x = data[0] + offset;
    float* m = data[1] + offset;
    float* v = data[2] + offset;
    for (int64_t j = 0; j < width; ++j) {
      const float g = Penalized(grad[j], x[j], l1, l2_twice);
      m[j] = m[j] + (g - m[j]) * c1;
      v[j] = v[j] + (g * g - v[j]) * c2;
      x[j] = x[j] - m[j] * alpha / (std::sqrt(v[j]) + epsilon);
    }
  }
};

// Inputs: table, accumulator, learning_rate, epsilon, l1, l2_twice, values,
// positions, rows.
class SparseRowAdagradOp : public RowUpdateOp {
 public:
  explicit SparseRowAdagradOp(OpKernelConstruction* ctx)
      : RowUpdateOp(ctx, 2) {}

 protected:
  void UpdateRow(const float* scalars, const std::vector<float*>& data,
                 int64_t offset, const float* grad,
                 int64_t width) const override {
    const float lr = scalars[0], epsilon = scalars[1], l1 = scalars[2],
                l2_twice = scalars[3];
    float* x = data[0] + offset;
    float* accumulator = data[1] + offset;
    for (int64_t j = 0; j < width; ++j) {
      const float g = Penalized(grad[j], x[j], l1, l2_twice);
      accumulator[j] = accumulator[j] + g * g;
      x[j] = x[j] - lr * g / std::sqrt(accumulator[j] + epsilon);
    }
  }
};

}  // namespace

REGISTER_OP("KerasFmSparseRowAdam")
    .Input("table: resource")
    .Input("m: resource")
    .Input("v: resource")
    .Input("alpha: float")
    .Input("one_minus_beta_1: float")
    .Input("one_minus_beta_2: float")
    .Input("epsilon: float")
    .Input("l1: float")
    .Input("l2_twice: float")
    .Input("values: float")
    .Input("positions: int32")
    .Input("rows: Tindices")
    .Attr("Tindices: {int32, int64}")
    .SetIsStateful()
    .SetShapeFn(shape_inference::NoOutputs);

REGISTER_OP("KerasFmSparseRowAdagrad")
    .Input("table: resource")
    .Input("accumulator: resource")
    .Input("learning_rate: float")
    .Input("epsilon: float")
    .Input("l1: float")
    .Input("l2_twice: float")
    .Input("values: float")
    .Input("positions: int32")
    .Input("rows: Tindices")
    .Attr("Tindices: {int32, int64}")
    .SetIsStateful()
    .SetShapeFn(shape_inference::NoOutputs);

REGISTER_KERNEL_BUILDER(Name("KerasFmSparseRowAdam").Device(DEVICE_CPU),
                        SparseRowAdamOp);
REGISTER_KERNEL_BUILDER(Name("KerasFmSparseRowAdagrad").Device(DEVICE_CPU),
                        SparseRowAdagradOp);

}  // namespace tensorflow
