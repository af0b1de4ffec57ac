#include "optim.h"

#include <cmath>
#include <sstream>

#include "errors.h"
#include "nn/weights.h"

namespace mlxlab {

namespace {

constexpr double kPi = 3.14159265358979323846;  // Python's math.pi

// A Python float next to an array: a "weak" scalar that takes the array's floating dtype.
mx::array weak(double v, mx::Dtype dtype) {
  auto a = mx::array(static_cast<float>(v));
  return dtype == mx::float32 ? a : mx::astype(a, dtype);
}
mx::array f32(double v) { return mx::array(static_cast<float>(v)); }
mx::array u64(uint64_t v) { return mx::array(v, mx::uint64); }
mx::array as_f32(const mx::array& a) { return mx::astype(a, mx::float32); }

std::string num(double v) {
  std::ostringstream s;
  s << v;
  return s.str();
}

void need_args(const ScheduleConfig& c, size_t min, size_t max, const char* signature) {
  if (c.arguments.size() < min || c.arguments.size() > max) {
    fail(codes::kConfig, "lr_schedule: " + c.name + " takes arguments " + signature + ", got " +
                             std::to_string(c.arguments.size()));
  }
  for (double a : c.arguments) {
    if (!std::isfinite(a)) fail(codes::kConfig, "lr_schedule.arguments must be finite numbers");
  }
}

int need_int(double v, const std::string& what) {
  if (v != std::floor(v) || v < 1 || v > 1e9) {
    fail(codes::kConfig, "lr_schedule: " + what + " must be an integer >= 1, got " + num(v));
  }
  return static_cast<int>(v);
}

// mlx.optimizers.schedulers, step by step as Python evaluates them (Python floats are weak
// float32 scalars, Python ints weak uint64 next to the uint64 step).
Schedule cosine_decay(double init, int decay_steps, double end) {
  return [=](const mx::array& step) {
    auto s = mx::minimum(step, u64(decay_steps));
    auto decay = mx::multiply(
        f32(0.5), mx::add(f32(1.0), mx::cos(mx::multiply(f32(kPi / decay_steps), as_f32(s)))));
    return mx::add(f32(end), mx::multiply(decay, f32(init - end)));
  };
}

Schedule linear_schedule(double init, double end, int steps) {
  return [=](const mx::array& step) {
    auto s = mx::minimum(step, u64(steps));
    return mx::add(mx::multiply(as_f32(s), f32((end - init) / steps)), f32(init));
  };
}

Schedule exponential_decay(double init, double decay_rate) {
  return [=](const mx::array& step) {
    return mx::multiply(f32(init), mx::power(f32(decay_rate), as_f32(step)));
  };
}

Schedule step_decay(double init, double decay_rate, int step_size) {
  return [=](const mx::array& step) {
    auto k = mx::floor_divide(step, u64(step_size));
    return mx::multiply(f32(init), mx::power(f32(decay_rate), as_f32(k)));
  };
}

// join_schedules([first, second], [boundary])
Schedule join(Schedule first, Schedule second, int boundary) {
  return [=](const mx::array& step) {
    auto out = first(step);
    return mx::where(mx::less(step, u64(boundary)), out, second(mx::subtract(step, u64(boundary))));
  };
}

}  // namespace

Schedule make_schedule(const ScheduleConfig& c) {
  Schedule fn;
  if (c.name == "cosine_decay") {
    need_args(c, 2, 3, "[init, decay_steps, end=0]");
    fn = cosine_decay(c.arguments[0], need_int(c.arguments[1], "cosine_decay decay_steps"),
                      c.arguments.size() > 2 ? c.arguments[2] : 0.0);
  } else if (c.name == "linear_schedule") {
    need_args(c, 3, 3, "[init, end, steps]");
    fn = linear_schedule(c.arguments[0], c.arguments[1],
                         need_int(c.arguments[2], "linear_schedule steps"));
  } else if (c.name == "exponential_decay") {
    need_args(c, 2, 2, "[init, decay_rate]");
    fn = exponential_decay(c.arguments[0], c.arguments[1]);
  } else if (c.name == "step_decay") {
    need_args(c, 3, 3, "[init, decay_rate, step_size]");
    fn = step_decay(c.arguments[0], c.arguments[1],
                    need_int(c.arguments[2], "step_decay step_size"));
  } else {
    fail(codes::kConfig, "lr_schedule.name \"" + c.name +
                             "\" is not supported (cosine_decay, linear_schedule, "
                             "exponential_decay, step_decay)");
  }
  if (c.warmup < 0)
    fail(codes::kConfig, "lr_schedule.warmup must be >= 0, got " + std::to_string(c.warmup));
  if (c.warmup > 0) {
    if (!std::isfinite(c.warmup_init))
      fail(codes::kConfig, "lr_schedule.warmup_init must be finite");
    auto warmup = linear_schedule(c.warmup_init, c.arguments[0], c.warmup);
    fn = join(warmup, fn, c.warmup + 1);
  }
  return fn;
}

Optimizer::Optimizer(OptimizerConfig config) : config_(std::move(config)) {
  auto& c = config_;
  if (c.name != "adam" && c.name != "adamw" && c.name != "sgd") {
    fail(codes::kConfig, "optimizer \"" + c.name + "\" is not supported (adam, adamw, sgd)");
  }
  if (!std::isfinite(c.learning_rate) || c.learning_rate < 0) {
    fail(codes::kConfig, "learning_rate must be a finite number >= 0, got " + num(c.learning_rate));
  }
  if (c.name == "adam" || c.name == "adamw") {
    if (!(c.beta1 >= 0 && c.beta1 < 1))
      fail(codes::kConfig, "Adam beta1 must be in [0, 1), got " + num(c.beta1));
    if (!(c.beta2 >= 0 && c.beta2 < 1))
      fail(codes::kConfig, "Adam beta2 must be in [0, 1), got " + num(c.beta2));
    if (!(c.eps >= 0)) fail(codes::kConfig, "Adam eps must be >= 0, got " + num(c.eps));
    slot_names_ = {"m", "v"};
  } else {
    if (c.nesterov && (c.momentum <= 0 || c.dampening != 0)) {
      fail(codes::kConfig, "SGD: Nesterov momentum requires a momentum and zero dampening");
    }
    slot_names_ = {"v"};
  }
  if (!c.weight_decay) c.weight_decay = c.name == "adamw" ? 0.01 : 0.0;
  if (!std::isfinite(*c.weight_decay)) fail(codes::kConfig, "weight_decay must be finite");
  if (c.schedule) schedule_ = make_schedule(*c.schedule);
}

std::vector<mx::array> Optimizer::init(const std::vector<mx::array>& params) const {
  std::vector<mx::array> state;
  auto step = u64(0);
  state.push_back(step);
  state.push_back(schedule_ ? (*schedule_)(step) : f32(config_.learning_rate));
  for (const auto& p : params) {
    for (size_t k = 0; k < slot_names_.size(); ++k) state.push_back(mx::zeros_like(p));
  }
  return state;
}

mx::array Optimizer::apply_single(const mx::array& gradient, const mx::array& parameter,
                                  const mx::array* slots, mx::array* new_slots,
                                  const mx::array& learning_rate, const mx::array& step) const {
  const auto& c = config_;
  auto dt = gradient.dtype();
  auto lr = mx::astype(learning_rate, dt);
  if (c.name == "sgd") {
    auto g = gradient;
    double wd = *c.weight_decay;
    if (wd != 0) g = mx::add(g, mx::multiply(weak(wd, dt), parameter));
    if (c.momentum <= 0) {
      new_slots[0] = slots[0];
      return mx::subtract(parameter, mx::multiply(lr, g));
    }
    auto v = mx::multiply(weak(c.momentum, dt), slots[0]);
    v = c.dampening > 0 ? mx::add(v, mx::multiply(weak(1 - c.dampening, dt), g)) : mx::add(v, g);
    auto update = c.nesterov ? mx::add(g, mx::multiply(weak(c.momentum, dt), v)) : v;
    new_slots[0] = v;
    return mx::subtract(parameter, mx::multiply(lr, update));
  }
  // adam / adamw
  auto p = parameter;
  if (c.name == "adamw") {
    p = mx::multiply(p, mx::subtract(weak(1.0, dt), mx::multiply(lr, weak(*c.weight_decay, dt))));
  }
  double b1 = c.beta1, b2 = c.beta2;
  auto m = mx::add(mx::multiply(weak(b1, dt), slots[0]), mx::multiply(weak(1 - b1, dt), gradient));
  auto v = mx::add(mx::multiply(weak(b2, dt), slots[1]),
                   mx::multiply(weak(1 - b2, dt), mx::square(gradient)));
  new_slots[0] = m;
  new_slots[1] = v;
  if (c.bias_correction) {
    auto fstep = as_f32(step);
    auto c1 = mx::astype(mx::divide(lr, mx::subtract(f32(1.0), mx::power(f32(b1), fstep))), dt);
    auto c2 = mx::astype(mx::rsqrt(mx::subtract(f32(1.0), mx::power(f32(b2), fstep))), dt);
    auto numerator = mx::multiply(c1, m);
    auto denominator = mx::add(mx::multiply(mx::sqrt(v), c2), weak(c.eps, dt));
    return mx::subtract(p, mx::divide(numerator, denominator));
  }
  return mx::subtract(p, mx::divide(mx::multiply(lr, m), mx::add(mx::sqrt(v), weak(c.eps, dt))));
}

std::pair<std::vector<mx::array>, std::vector<mx::array>> Optimizer::update(
    const std::vector<mx::array>& grads, const std::vector<mx::array>& params,
    const std::vector<mx::array>& state) const {
  size_t k = slot_names_.size();
  if (grads.size() != params.size() || state.size() != 2 + k * params.size()) {
    fail(codes::kInternal, "optimizer update: mismatched parameters, gradients and state");
  }
  std::vector<mx::array> new_state = state;
  auto step = state[0];
  auto lr = schedule_ ? (*schedule_)(step) : state[1];
  step = mx::add(step, u64(1));
  new_state[0] = step;
  new_state[1] = lr;
  std::vector<mx::array> new_params;
  new_params.reserve(params.size());
  for (size_t i = 0; i < params.size(); ++i) {
    new_params.push_back(
        apply_single(grads[i], params[i], &state[2 + k * i], &new_state[2 + k * i], lr, step));
  }
  return {std::move(new_params), std::move(new_state)};
}

void Optimizer::set_learning_rate(double lr) {
  if (!std::isfinite(lr) || lr < 0) {
    fail(codes::kArgument, "learning rate must be a finite number >= 0, got " + num(lr));
  }
  config_.learning_rate = lr;
  config_.schedule.reset();
  schedule_.reset();
}

mx::array Optimizer::learning_rate_array() const { return f32(config_.learning_rate); }

Weights Optimizer::state_weights(const std::vector<mx::array>& state,
                                 const std::vector<std::string>& names) const {
  Weights out;
  out.insert_or_assign("step", state[0]);
  out.insert_or_assign("learning_rate", state[1]);
  size_t k = slot_names_.size();
  for (size_t i = 0; i < names.size(); ++i) {
    for (size_t j = 0; j < k; ++j)
      out.insert_or_assign(names[i] + "." + slot_names_[j], state[2 + k * i + j]);
  }
  return out;
}

std::vector<mx::array> Optimizer::state_from_weights(const Weights& w,
                                                     const std::vector<std::string>& names,
                                                     const std::vector<mx::array>& params,
                                                     const std::string& source) const {
  auto get = [&](const std::string& key, const mx::Shape& shape, mx::Dtype dtype) {
    auto it = w.find(key);
    if (it == w.end()) {
      fail(codes::kWeights,
           source + ": missing optimizer state \"" + key + "\" (" + config_.name + ")");
    }
    if (it->second.shape() != shape) {
      fail(codes::kWeights, source + ": optimizer state \"" + key + "\" has shape " +
                                nn::shape_string(it->second.shape()) + ", expected " +
                                nn::shape_string(shape));
    }
    if (it->second.dtype() != dtype) {
      fail(codes::kWeights, source + ": optimizer state \"" + key + "\" has the wrong dtype");
    }
    return it->second;
  };
  std::vector<mx::array> state;
  state.push_back(get("step", {}, mx::uint64));
  state.push_back(get("learning_rate", {}, mx::float32));
  for (size_t i = 0; i < names.size(); ++i) {
    for (const auto& slot : slot_names_) {
      state.push_back(get(names[i] + "." + slot, params[i].shape(), params[i].dtype()));
    }
  }
  return state;
}

}  // namespace mlxlab
