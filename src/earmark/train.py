"""The one training loop for torch models (CNNs from scratch and ImageNet transfer).

Each epoch draws one analysis window per training clip at a random position (a time-shift by
cropping, so long clips show the model all their parts), applies the waveform augmentations,
computes features on the fly, applies spectrogram and batch augmentations (SpecAugment, mixup),
and steps AdamW under a one-cycle learning-rate schedule. The task (:mod:`earmark.tasks`) gives
the targets' meaning, the loss and the validation metric; the loop is the same for all. After
every epoch the validation clips (carved out of the training data by group) are scored the way
prediction scores them — every window, aggregated to the clip — and the best epoch by the
task's primary metric (balanced accuracy, macro mAP) is kept;
training stops early after ``patience`` epochs without improvement. Without validation clips
every epoch runs and the last one is the model. Ctrl-C stops training and keeps the best (or,
without validation clips, the last completed) epoch so far.
"""

import copy
import time
from dataclasses import asdict, dataclass

import numpy as np
import torch
from tqdm.auto import tqdm

from ._validation import check_choice, check_number
from .tasks import get_task
from .windows import frame_windows

__all__ = ["TrainConfig", "train_window_model", "seed_everything", "window_targets"]


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation settings of the training loop.

    Parameters
    ----------
    epochs : int
        Maximum number of epochs (one window per training clip each).
    batch_size : int
    learning_rate : float
        Peak learning rate of the one-cycle schedule (AdamW).
    weight_decay : float
        AdamW decoupled weight decay.
    patience : int
        Stop after this many epochs without a better validation score (with validation clips
        only: without them every epoch runs).
    val_fraction : float
        Fraction of training clips carved out (by group) for validation / early stopping.
    balance : {'loss', 'sampler', 'none'}
        Class balancing: inverse-frequency class weights in the loss, or balanced sampling.
    backbone_lr_scale : float
        Learning rate of pretrained backbone parameters relative to ``learning_rate``.
    freeze_epochs : int
        Epochs during which pretrained backbone parameters stay frozen (transfer learning).
    """

    epochs: int = 30
    batch_size: int = 32
    learning_rate: float = 3e-3
    weight_decay: float = 1e-2
    patience: int = 10
    val_fraction: float = 0.0
    balance: str = "loss"
    backbone_lr_scale: float = 0.1
    freeze_epochs: int = 0

    def __post_init__(self):
        o = "TrainConfig"
        check_number(self.epochs, "epochs", o, low=1, closed="left", integer=True)
        check_number(self.batch_size, "batch_size", o, low=1, closed="left", integer=True)
        check_number(self.learning_rate, "learning_rate", o, low=0, high=10)
        check_number(self.weight_decay, "weight_decay", o, low=0, closed="left")
        check_number(self.patience, "patience", o, low=1, closed="left", integer=True)
        check_number(self.val_fraction, "val_fraction", o, low=0, high=0.5, closed="left")
        check_choice(self.balance, "balance", o, ("loss", "sampler", "none"))
        check_number(self.backbone_lr_scale, "backbone_lr_scale", o, low=0, high=1,
                     closed="right")
        check_number(self.freeze_epochs, "freeze_epochs", o, low=0, closed="left", integer=True)

    def to_dict(self):
        return asdict(self)


def seed_everything(seed):
    """Seed torch and return a numpy Generator: the same seed gives the same model."""
    torch.manual_seed(seed)
    return np.random.default_rng(seed)


def _draw_window(clip, window, rng):
    """A window at a random position of the clip (zero-padded when the clip is shorter), and
    its start sample."""
    if len(clip) > window:
        start = int(rng.integers(0, len(clip) - window + 1))
        return clip[start:start + window], start
    out = np.zeros(window, np.float32)
    out[:len(clip)] = clip
    return out, 0


#: An event labels a window when they overlap by at least this share of the shorter of the two
#: (the event, the window).
EVENT_MIN_OVERLAP = 0.5


def window_targets(events, starts, window, n_classes):
    """Targets (n_windows, n_classes) of windows from a clip's timed events.

    Parameters
    ----------
    events : array (n_events, 3)
        Onset sample, offset sample, class index of each event of the clip.
    starts : array (n_windows,)
        Start sample of each window; ``window`` its length in samples.

    A window carries a class when one of its events overlaps it by at least
    :data:`EVENT_MIN_OVERLAP` of the shorter of the two (the event, the window).

    Examples
    --------
    >>> ev = np.array([[100, 300, 1]])
    >>> window_targets(ev, np.array([0, 200, 400]), 200, 2).tolist()
    [[0.0, 1.0], [0.0, 1.0], [0.0, 0.0]]
    """
    starts = np.asarray(starts, np.int64)
    out = np.zeros((len(starts), n_classes), np.float32)
    for onset, offset, c in np.asarray(events, np.int64).reshape(-1, 3):
        overlap = np.minimum(starts + window, offset) - np.maximum(starts, onset)
        need = EVENT_MIN_OVERLAP * min(offset - onset, window)
        out[overlap >= max(1, need), c] = 1.0
    return out


def _epoch_order(targets, balance, task, rng):
    if balance != "sampler":
        return rng.permutation(len(targets))
    return rng.choice(len(targets), size=len(targets), replace=True,
                      p=task.sample_weights(targets))


def _as_targets(y, n_classes):
    """Targets (n, n_classes) float32: class indices (n,) become one-hot rows."""
    y = np.asarray(y)
    if y.ndim == 1:
        out = np.zeros((len(y), n_classes), np.float32)
        out[np.arange(len(y)), y.astype(np.int64)] = 1.0
        return out
    return y.astype(np.float32).reshape(-1, n_classes)


def evaluate_clips(model, clips, *, aggregation="mean", task="classification"):
    """Clip scores (n_clips, n_classes): every window scored, then aggregated by the task."""
    task = get_task(task)
    fc = model.features
    wins, owner = [], []
    for i, c in enumerate(clips):
        w, _ = frame_windows(c, fc.window_samples, fc.hop_samples)
        wins.append(w)
        owner.append(np.full(len(w), i))
    if not wins:
        return np.zeros((0, model.n_classes))
    scores = model.score_windows(np.concatenate(wins))
    owner = np.concatenate(owner)
    return np.stack([task.aggregate(scores[owner == i], method=aggregation)
                     for i in range(len(clips))])


def _precompute_variants(augmentation, clips, sample_rate, *, n_variants, cache_dir, progress):
    """K variants per clip through the slow transforms (pitch, stretch), cached on disk."""
    if augmentation is None or not augmentation.precomputed_transforms:
        return None
    return [augmentation.precompute(c, sample_rate, n_variants=n_variants, cache_dir=cache_dir)
            for c in tqdm(clips, desc="augmenting (precomputed variants)", unit="clip",
                          disable=not progress)]


def train_window_model(model, *, train_clips, train_y, val_clips=(), val_y=(), config=None,
                       augmentation=None, seed=0, aggregation="mean", progress=True,
                       n_variants=4, cache_dir=None, deadline=None, task="classification",
                       train_events=None, event_targets=None):
    """Train ``model`` (a :class:`~earmark.models.neural.NeuralWindowModel`) in place.

    Parameters
    ----------
    train_clips, val_clips : list of 1-D float32 arrays at ``model.features.sample_rate``
    train_y, val_y : arrays of targets (n, n_classes) from ``task.encode``, or (classification)
        class indices (n,)
    config : TrainConfig
    augmentation : earmark.augment.Augmentation or None
        Slow waveform transforms (pitch-shift, time-stretch) are precomputed once per clip into
        ``n_variants`` variants (cached in ``cache_dir``, keyed by content hash + parameters) and
        one variant is drawn per window; the others run on the fly.
    deadline : float or None
        A ``time.perf_counter()`` value: when another epoch would end after it, training stops
        with :class:`~earmark.errors.BudgetExceededError` (``--recipe auto`` budgets).
    task : str or Task
        'classification' or 'tagging' (:mod:`earmark.tasks`): loss, balancing, validation
        metric.
    train_events : list of arrays (n_events, 3) or None
        Strong labels: per training clip, each event's onset and offset (samples) and class
        index. A drawn window then carries the classes of the events it overlaps
        (:func:`window_targets`) instead of its clip's targets; validation stays per clip.
    event_targets : callable or None
        ``event_targets(events, starts, window, n_classes)`` -> targets of windows from a clip's
        events, one row (or, for a network with frame outputs, one (frames, n_classes) block)
        per window; :func:`window_targets` when None. The drawn window is a random crop of its
        clip, so the audio and its frame targets move together.

    Returns
    -------
    history : list of dict
        One entry per epoch: train_loss, train_accuracy (windows whose decision was right),
        val_loss, val_score (the task's primary metric on the validation clips; also as
        val_accuracy for classification, val_map_macro for tagging), lr, epoch_s (seconds of
        training, without validation).
    info : dict
        best_epoch (the epoch kept: the last one without validation clips), interrupted
        (Ctrl-C), stopped_early, wall_s, epochs_run.
    """
    config = config or TrainConfig()
    if train_events is not None and augmentation is not None and augmentation.moves_events:
        from .errors import ParameterError
        raise ParameterError("strong labels (window labels from event times) cannot be trained "
                             "with augmentations that move events in time (time-shift, "
                             "time-stretch): drop them from augment")
    to_targets = event_targets or window_targets
    rng = seed_everything(seed)
    gen = torch.Generator().manual_seed(seed)
    fc = model.features
    sr, window = fc.sample_rate, fc.window_samples
    task = get_task(task)
    n_classes = model.n_classes
    train_y = _as_targets(train_y, n_classes)
    val_y = _as_targets(val_y, n_classes)
    device = model.device

    # normalisation statistics from every training window, before any augmentation
    model.fit_normalization(np.concatenate(
        [frame_windows(c, window, fc.hop_samples)[0] for c in train_clips]))

    variants = _precompute_variants(augmentation, train_clips, sr, n_variants=n_variants,
                                    cache_dir=cache_dir, progress=progress)

    net = model.net
    model._inference_net = None          # score with the network being trained
    backbone = list(getattr(net, "backbone_parameters", lambda: [])())
    backbone_ids = {id(p) for p in backbone}
    head = [p for p in net.parameters() if id(p) not in backbone_ids]
    groups = [{"params": head, "lr": config.learning_rate}]
    if backbone:
        groups.append({"params": backbone, "lr": config.learning_rate * config.backbone_lr_scale})
    opt = torch.optim.AdamW(groups, weight_decay=config.weight_decay)
    steps = max(1, int(np.ceil(len(train_clips) / config.batch_size)))
    sched = torch.optim.lr_scheduler.OneCycleLR(
        opt, max_lr=[g["lr"] for g in groups], total_steps=config.epochs * steps,
        pct_start=0.15, anneal_strategy="cos")
    cw = task.loss_weights(train_y).to(device) if config.balance == "loss" else None

    history, best, best_state, best_epoch = [], -np.inf, None, 0
    best_val = None                      # best validation score, for the bar
    interrupted = stopped_early = False
    t0 = time.perf_counter()
    bar = tqdm(total=config.epochs * steps, desc="training", unit="batch", disable=not progress,
               dynamic_ncols=True)
    try:
        for epoch in range(1, config.epochs + 1):
            for p in backbone:
                p.requires_grad_(epoch > config.freeze_epochs)
            net.train()
            t_epoch = time.perf_counter()
            order = _epoch_order(train_y, config.balance, task, rng)
            tot_loss = tot_correct = tot_n = 0.0
            for b in range(steps):
                idx = order[b * config.batch_size:(b + 1) * config.batch_size]
                if len(idx) == 0:
                    continue
                clips = ([train_clips[i] for i in idx] if variants is None
                         else [variants[i].choose(rng) for i in idx])
                drawn = [_draw_window(c, window, rng) for c in clips]
                wav = np.stack([w for w, _ in drawn])
                if augmentation is not None:
                    wav = np.stack([augmentation.waveform(w, sr, rng=rng,
                                                          precomputed=variants is not None)
                                    for w in wav])
                if train_events is None:
                    y = torch.from_numpy(train_y[idx])
                else:                  # strong labels: the events in each drawn window
                    y = torch.from_numpy(np.concatenate([
                        to_targets(train_events[i], [start], window, n_classes)
                        for i, (_, start) in zip(idx, drawn)]))
                with torch.no_grad():
                    x = model.featurize(torch.from_numpy(wav).to(device))
                    if augmentation is not None:
                        x = augmentation.spectrogram(x, generator=gen)
                        shape = y.shape      # frame targets mix as one row per window
                        x, y = augmentation.batch(x, y.reshape(len(y), -1), generator=gen)
                        y = y.reshape(shape)
                y = y.to(device)
                if len(idx) == 1:     # batch-norm needs 2 samples in training mode
                    x, y = x.repeat(2, 1, 1, 1), y.repeat(2, *([1] * (y.ndim - 1)))
                logits = net(x)
                loss = task.loss(logits, y, cw)
                if not torch.isfinite(loss.detach()):
                    # a step on it would turn every weight into NaN; stop while the model is sane
                    from .errors import EarmarkError
                    raise EarmarkError(
                        f"training stopped at epoch {epoch}, batch {b + 1}: the loss is "
                        f"{float(loss.detach())}. Check the training audio for absurd levels "
                        "(earmark inspect), or lower the learning rate.")
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                sched.step()
                tot_loss += float(loss.detach()) * len(y)
                tot_correct += task.batch_correct(logits.detach(), y)
                tot_n += len(y)
                bar.update(1)
                shown = {"epoch": epoch, "loss": f"{tot_loss / tot_n:.3f}",
                         "acc": f"{tot_correct / tot_n:.3f}"}
                if len(val_clips):
                    shown["best_val"] = f"{best_val:.3f}" if best_val is not None else "-"
                bar.set_postfix(shown)
            entry = {"epoch": epoch, "train_loss": tot_loss / max(tot_n, 1),
                     "train_accuracy": tot_correct / max(tot_n, 1), "val_loss": None,
                     "val_accuracy": None, "val_score": None, "lr": float(opt.param_groups[0]["lr"]),
                     "epoch_s": time.perf_counter() - t_epoch}
            if len(val_clips):
                proba = evaluate_clips(model, val_clips, aggregation=aggregation, task=task)
                entry["val_loss"] = task.clip_loss(proba, val_y)
                labels = [str(i) for i in range(n_classes)]
                value = task.metrics(val_y, proba, labels)[task.validation_metric]
                entry["val_score"] = None if value is None else float(value)
                entry[f"val_{task.validation_metric}"] = entry["val_score"]
                if task.primary_metric == "balanced_accuracy":
                    entry["val_accuracy"] = entry["val_score"]
                score = (entry["val_score"] or 0.0) - 1e-3 * entry["val_loss"]
            history.append(entry)
            if deadline is not None and epoch < config.epochs and \
                    time.perf_counter() + entry["epoch_s"] > deadline:
                from .errors import BudgetExceededError
                raise BudgetExceededError(
                    f"training stopped after epoch {epoch} of {config.epochs}: the next one "
                    "would end past the time limit", completed=history)
            if not len(val_clips):
                # nothing to choose by: the model is the last epoch of the schedule (the training
                # loss, noisy under mixup, would pick an arbitrary earlier one)
                best_epoch, best_state = epoch, copy.deepcopy(net.state_dict())
            elif score > best:
                best, best_epoch = score, epoch
                best_val = entry["val_score"]
                best_state = copy.deepcopy(net.state_dict())
            elif epoch - best_epoch >= config.patience:
                stopped_early = True
                break
    except KeyboardInterrupt:
        interrupted = True
        bar.write("interrupted: keeping the best epoch so far")
    finally:
        bar.close()
    if best_state is not None:
        net.load_state_dict(best_state)
    model.prepare_inference()
    return history, {"best_epoch": best_epoch, "interrupted": interrupted,
                     "stopped_early": stopped_early, "wall_s": time.perf_counter() - t0,
                     "epochs_run": len(history)}
