// `nnmf fit --method neural`: the paper's method.
#include "cli/cli.hpp"
#include "cli/output.hpp"

namespace nnmf::cli {
namespace {

/// The resolved options, for the report.
nlohmann::json settings_json(const FitOptions& o) {
  nlohmann::json s;
  s["reconstruction_weight"] = o.reconstruction_weight;
  s["energy_weight"] = o.energy_weight;
  s["scaling"] = to_string(o.scaling);
  s["optimizer"] = to_string(o.optimizer);
  s["epochs"] = o.epochs;
  s["rel_tol"] = o.rel_tol;
  s["patience"] = o.patience;
  if (o.supervision)
    s["validation"] = {{"fraction", o.validation_fraction}, {"min_labels", o.validation_min_labels},
                       {"patience", o.validation_patience}};
  s["lean_init_columns"] = o.lean_init_columns;
  if (o.optimizer != Optimizer::line_search) {
    s["learning_rate"] = o.learning_rate > 0 ? o.learning_rate : 1.0;
    s["lr_decay"] = o.lr_decay;
    s["decay_every"] = o.decay_every;
  }
  s["init"] = to_string(o.init);
  if (o.init == Init::nmf) {
    s["init_iterations"] = o.init_iterations;
    s["init_restarts"] = o.init_restarts;
  }
  s["warm_start"] = o.warm_start;
  if (o.supervision) {
    s["supervision"] = {{"loss", to_string(o.supervision->loss)},
                        {"classifier", to_string(o.supervision->classifier)},
                        {"lambda", o.supervision->lambda}};
  }
  return s;
}

template <class T>
FitOutcome<T> fit_neural(const FitRequest<T>& req) {
  check_settings(req.settings, {}, "neural");
  FitOptions o = req.neural;
  o.ranks = req.ranks;
  o.seed = req.seed;
  o.supervision = req.supervision;
  if (req.iterations >= 0) o.epochs = req.iterations;
  if (req.progress) {
    const int total = o.epochs;
    o.on_epoch = [&req, total](const EpochRecord& r) { req.progress(r.epoch, total, r.loss); };
  }
  if (req.phase) o.on_phase = req.phase;
  o.should_stop = interrupt_requested;  // the first Ctrl-C ends training after the epoch
  NeuralNmf<T> model = req.X->sparse ? NeuralNmf<T>::fit(*req.ctx, req.X->csc, o)
                                     : NeuralNmf<T>::fit(*req.ctx, req.X->dense.view(), o);
  FitOutcome<T> out;
  out.A = model.factors();
  // S of the data the fit saw: with a held-out set, X without its entries (no held-out value
  // reaches an output; rel_error is then the error on the observed entries).
  if (!o.held_out.none())
    out.S = req.X->sparse ? model.transform(*req.ctx, drop_held_out(req.X->csc, o.held_out))
                          : model.transform(*req.ctx, drop_held_out(req.X->dense.view(), o.held_out).view());
  else
    out.S = req.X->sparse ? model.transform(*req.ctx, req.X->csc)
                          : model.transform(*req.ctx, req.X->dense.view());
  out.B = model.classifier();
  out.history = model.history();
  out.settings = settings_json(o);
  out.model = std::move(model);
  return out;
}

}  // namespace

void register_neural(std::map<std::string, Method>& m) {
  m["neural"] = {"Neural NMF (Will et al.): NNLS layers trained end to end (default)",
                 fit_neural<float>, fit_neural<double>};
}

}  // namespace nnmf::cli
