"""TensorBoard logs of a search: scalars per trial and the HParams dashboard's data.

`tensorboard --logdir RUN/logs` shows each trial's learning curves (written by
Keras's TensorBoard callback under `RUN/logs/<trial_id>/`) and compares trials by
hyperparameter in the HParams tab.
"""

import os


def trial_log_dir(log_root, trial_id):
    return os.path.join(log_root, trial_id)


def _loggable(values):
    """Hyperparameter values the HParams plugin accepts (bool, int, float, str)."""
    return {name: value for name, value in values.items()
            if not name.startswith("tuner/") and isinstance(value, (bool, int, float, str))}


def write_trial_hparams(tf, log_root, trial_id, values, metrics):
    """Record one trial's hyperparameters and final metrics as an HParams session."""
    from tensorboard.plugins.hparams import api as hparams

    with tf.summary.create_file_writer(trial_log_dir(log_root, trial_id)).as_default():
        hparams.hparams(_loggable(values), trial_id=trial_id)
        for name, value in metrics.items():
            tf.summary.scalar(f"hparams/{name}", value, step=0)


def write_experiment(tf, log_root, trials, metric_names):
    """The HParams experiment: every searched hyperparameter and the compared metrics."""
    from tensorboard.plugins.hparams import api as hparams

    seen = {}
    for trial in trials:
        for name, value in _loggable(trial.hyperparameters.values).items():
            seen.setdefault(name, set()).add(value)
    domains = []
    for name, values in sorted(seen.items()):
        if all(isinstance(v, str) for v in values):
            domains.append(hparams.HParam(name, hparams.Discrete(sorted(values, key=str))))
        else:
            domains.append(hparams.HParam(name))
    with tf.summary.create_file_writer(log_root).as_default():
        hparams.hparams_config(
            hparams=domains,
            metrics=[hparams.Metric(f"hparams/{name}", display_name=name) for name in metric_names])
