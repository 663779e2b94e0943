"""Data augmentation: waveform transforms, SpecAugment, mixup, and the plan that combines them.

The talk's advice, in its order: time-shift first; then time-stretch, pitch-shift and added
noise; then SpecAugment and mixup.

Waveform transforms (one float32 window, ``t(samples, sample_rate, rng=rng)``)
    :class:`TimeShift`, :class:`TimeStretch`, :class:`PitchShift`, :class:`Gain`,
    :class:`FilterAugment` (a random equaliser),
    :class:`AddColoredNoise` (white/pink/brown), :class:`AddBackgroundNoise` (a folder of your
    recordings), :class:`ApplyImpulseResponse` (a folder of impulse responses).
Feature-batch transforms (torch)
    :class:`SpecAugment` — ``t(x, generator=g)``; :class:`Mixup` — ``t(x, y, generator=g)``.
The plan
    :class:`Augmentation` — ``from_spec("shift,stretch,pitch,noise:DIR,mixup,specaugment")``,
    ``from_config``/``to_config`` (stored in the model file), ``waveform``, ``spectrogram``,
    ``batch``, ``moves_events``, ``check_strong_labels``, ``precompute``; what
    ``--augment default`` means per recipe family is :data:`DEFAULT_SETS`.
Precomputed variants
    :mod:`earmark.augment.cache` — :func:`precompute_variants`, :class:`ClipVariants`.

Every transform has a probability ``p``, paired unit-suffixed ranges (``min_semitones`` /
``max_semitones``, ``min_snr_db`` / ``max_snr_db``...), raises
:class:`~earmark.errors.ParameterError` for nonsense, and gives byte-identical output for the
same Generator state.

How the trainer uses it
-----------------------
Strong labels: transforms that move events (time-shift, time-stretch) are refused, not silently
applied; call ``plan.check_strong_labels()`` when the data has onsets/offsets.

Pitch-shift and time-stretch are too slow to run on every window of every epoch (measured in
``benchmarks/augment_speed.py``), so they are precomputed once per clip; everything else runs on
the fly::

    plan = Augmentation.from_spec(args.augment, seed=seed)
    if dataset_has_strong_labels:
        plan.check_strong_labels()
    # once per clip (or per window) before training; cached on disk across runs:
    variants = [plan.precompute(clip, sr, n_variants=4, cache_dir=cache_dir) for clip in clips]
    for epoch in range(n_epochs):
        for i, (clip_index, start) in enumerate(windows):        # the epoch's window order
            rng = plan.window_rng(epoch, i)
            w = variants[clip_index].choose(rng)[start:start + n]  # pad if a stretch shortened it
            w = plan.waveform(w, sr, rng=rng, precomputed=True)    # shift, gain, noise, IR
        ...
        x = features(batch_of_windows)                             # (n, 1, n_mels, frames)
        g = plan.batch_generator(epoch, batch_index)
        x = plan.spectrogram(x, generator=g)                       # SpecAugment
        x, y = plan.batch(x, y, generator=g)                       # mixup (soft targets)

Without ``precompute``, ``plan.waveform(w, sr, rng=rng)`` runs every waveform transform on the
fly (simplest; fine for small data or a few epochs). Augmentation is for training only:
prediction never calls it.

Examples
--------
>>> import numpy as np
>>> from earmark.augment import Augmentation, PitchShift
>>> plan = Augmentation([PitchShift(min_semitones=-2, max_semitones=2, p=1.0)], seed=0)
>>> y = plan.waveform(np.zeros(22050, np.float32), 22050, rng=plan.window_rng(0, 0))
>>> y.dtype, y.shape
(dtype('float32'), (22050,))
"""

from .background_noise import AddBackgroundNoise
from .base import BatchTransform, SpectrogramTransform, Transform, WaveformTransform
from .cache import ClipVariants, precompute_variants
from .colored_noise import AddColoredNoise, colored_noise
from .filter_augment import FilterAugment
from .gain import Gain
from .impulse_response import ApplyImpulseResponse
from .mixup import Mixup
from .pitch_shift import PitchShift
from .plan import DEFAULT_SETS, SPEC_HELP, SPEC_NAMES, Augmentation
from .spec_augment import SpecAugment
from .time_shift import TimeShift
from .time_stretch import TimeStretch

__all__ = [
    "Augmentation", "SPEC_NAMES", "SPEC_HELP", "DEFAULT_SETS",
    "TimeShift", "TimeStretch", "PitchShift", "Gain", "FilterAugment", "AddColoredNoise",
    "AddBackgroundNoise", "ApplyImpulseResponse", "SpecAugment", "Mixup",
    "precompute_variants", "ClipVariants", "colored_noise",
    "Transform", "WaveformTransform", "SpectrogramTransform", "BatchTransform",
]
