"""The augmentation plan: --augment specs, config round trip, seeds, strong labels."""

import json
import pickle

import numpy as np
import pytest
import soundfile as sf
import torch

from earmark.augment import (AddBackgroundNoise, AddColoredNoise, ApplyImpulseResponse,
                             Augmentation, FilterAugment, Gain, Mixup, PitchShift, SpecAugment,
                             TimeShift, TimeStretch)
from earmark.errors import ParameterError

SR = 22050


def window(seed=0):
    return (0.3 * np.random.default_rng(seed).standard_normal(SR)).astype(np.float32)


def test_spec_builds_the_talks_order_whatever_the_order_written():
    plan = Augmentation.from_spec("mixup, specaugment,noise:rec/bg,pitch,stretch,shift")
    assert [type(t) for t in plan] == [TimeShift, TimeStretch, PitchShift, AddBackgroundNoise,
                                       SpecAugment, Mixup]
    assert plan.transforms[3].noise_dir == "rec/bg"  # a folder that need not exist yet


def test_spec_names_none_default_and_folders():
    assert len(Augmentation.from_spec("none")) == 0 and len(Augmentation.from_spec("")) == 0
    default = Augmentation.from_spec("default")
    assert [type(t) for t in default] == [Gain, FilterAugment, SpecAugment, Mixup]
    assert default == Augmentation.from_spec("mixup,filter,specaugment,gain")
    transfer = Augmentation.from_spec("default", family="transfer")
    assert [type(t) for t in transfer] == [PitchShift, Gain]
    with pytest.raises(ParameterError, match="family"):
        Augmentation.from_spec("default", family="sed")
    plan = Augmentation.from_spec(r"default,stretch,mixup,ir:C:\irs,noise:D:\bg,specaugment,"
                                  r"noise,shift,pitch")
    assert [type(t) for t in plan] == [TimeShift, TimeStretch, PitchShift, Gain, FilterAugment,
                                       ApplyImpulseResponse, AddBackgroundNoise, AddColoredNoise,
                                       SpecAugment, Mixup]
    assert plan.transforms[5].ir_dir == r"C:\irs" and plan.transforms[6].noise_dir == r"D:\bg"


@pytest.mark.parametrize("spec, message", [
    ("shift,wobble", "unknown augmentation 'wobble'; known: shift, stretch"),
    ("ir", "'ir' needs a folder: write ir:DIR"),
    ("noise:", "names no folder"),
    ("pitch:5", "'pitch' takes no ':' argument"),
    ("none,shift", "'none' cannot be combined"),
])
def test_bad_specs_say_what_is_accepted(spec, message):
    with pytest.raises(ParameterError, match=message):
        Augmentation.from_spec(spec)


def test_config_round_trips_through_json_with_paths_as_strings(tmp_path):
    (tmp_path / "bg").mkdir()
    sf.write(tmp_path / "bg" / "room.wav", window(1), SR)
    plan = Augmentation([TimeShift(min_shift_s=-0.1, max_shift_s=0.2, rollover=False, p=0.7),
                         PitchShift(min_semitones=-2, max_semitones=2, p=0.3),
                         AddBackgroundNoise(tmp_path / "bg", min_snr_db=6, max_snr_db=12),
                         FilterAugment(min_bands=2, max_bands=4, kind="step", p=0.8),
                         AddColoredNoise(colors=("pink",)),
                         SpecAugment(n_time_masks=1, p=1.0), Mixup(alpha=0.2, p=0.9)], seed=42)
    config = json.loads(json.dumps(plan.to_config()))
    assert config["transforms"][2]["params"]["noise_dir"] == str(tmp_path / "bg")
    again = Augmentation.from_config(config)
    assert again == plan and again.seed == 42
    assert repr(again) == repr(plan)
    x = window()
    assert plan.waveform(x, SR, rng=plan.window_rng(3, 4)).tobytes() == \
        again.waveform(x, SR, rng=again.window_rng(3, 4)).tobytes()


@pytest.mark.parametrize("config, message", [
    ({"format": "earmark.augment", "version": 99, "transforms": []}, "version 99"),
    ({"transforms": []}, "Not an augmentation config"),
    ({"format": "earmark.augment", "version": 1,
      "transforms": [{"name": "Wobble", "params": {}}]}, "Unknown augmentation 'Wobble'"),
    ({"format": "earmark.augment", "version": 1,
      "transforms": [{"name": "Gain", "params": {"min_db": 1}}]},
     r"unknown parameters \['min_db'\]"),
])
def test_bad_configs_are_refused(config, message):
    with pytest.raises(ParameterError, match=message):
        Augmentation.from_config(config)


def test_same_seed_same_epoch_same_output_and_epochs_differ():
    plan = Augmentation.from_spec("shift,stretch,pitch,noise", seed=7)
    for t in plan:
        t.p = 1.0
    x = window()
    a = plan.waveform(x, SR, rng=plan.window_rng(0, 5))
    b = plan.waveform(x, SR, rng=plan.window_rng(0, 5))
    c = plan.waveform(x, SR, rng=plan.window_rng(1, 5))
    other = Augmentation.from_spec("shift,stretch,pitch,noise", seed=8)
    for t in other:
        t.p = 1.0
    d = other.waveform(x, SR, rng=other.window_rng(0, 5))
    assert a.dtype == np.float32 and a.shape == x.shape
    assert a.tobytes() == b.tobytes()
    assert a.tobytes() != c.tobytes() and a.tobytes() != d.tobytes()


def test_batch_steps_are_seeded_per_epoch_and_batch():
    plan = Augmentation.from_spec("specaugment,mixup", seed=1)
    x, y = torch.randn(8, 1, 64, 44), torch.eye(8)
    def run(epoch, b):
        g = plan.batch_generator(epoch, b)
        return plan.batch(plan.spectrogram(x, generator=g), y, generator=g)
    (xa, ya), (xb, yb), (xc, _) = run(0, 0), run(0, 0), run(0, 1)
    assert torch.equal(xa, xb) and torch.equal(ya, yb) and not torch.equal(xa, xc)
    assert xa.shape == x.shape and ya.shape == y.shape


def test_precomputed_skips_only_the_slow_transforms():
    plan = Augmentation([TimeStretch(p=1.0), PitchShift(p=1.0),
                         Gain(min_gain_db=-6.0206, max_gain_db=-6.0206, p=1.0)])
    assert [type(t) for t in plan.precomputed_transforms] == [TimeStretch, PitchShift]
    x = window()
    out = plan.waveform(x, SR, rng=0, precomputed=True)
    np.testing.assert_allclose(out, x * 0.5, rtol=1e-4)
    assert not np.allclose(plan.waveform(x, SR, rng=0), x * 0.5, atol=1e-3)


def test_strong_labels_refuse_transforms_that_move_events():
    plan = Augmentation.from_spec("shift,stretch,pitch,noise:rec/bg,specaugment")
    assert plan.moves_events
    with pytest.raises(ParameterError) as err:
        plan.check_strong_labels()
    message = str(err.value)
    assert "TimeShift, TimeStretch" in message and "strong labels" in message
    assert "--augment pitch,noise:rec/bg,specaugment" in message
    safe = Augmentation.from_spec("pitch,noise,specaugment,mixup")
    assert not safe.moves_events
    safe.check_strong_labels()  # nothing moves: no error


def test_plan_survives_pickling_for_dataloader_workers(tmp_path):
    (tmp_path / "bg").mkdir()
    sf.write(tmp_path / "bg" / "room.wav", window(1), SR)
    plan = Augmentation.from_spec(f"shift,noise:{tmp_path / 'bg'},noise", seed=2)
    for t in plan:
        t.p = 1.0
    x = window()
    before = plan.waveform(x, SR, rng=plan.window_rng(0, 1))  # fills the decoded-noise cache
    copy = pickle.loads(pickle.dumps(plan))
    assert copy == plan and copy.transforms[1]._decoded == {}
    assert copy.waveform(x, SR, rng=copy.window_rng(0, 1)).tobytes() == before.tobytes()


def test_plan_refuses_things_that_are_not_transforms():
    with pytest.raises(ParameterError, match="Augmentation.from_spec"):
        Augmentation(["shift"])
    with pytest.raises(ParameterError, match="'seed' parameter of Augmentation"):
        Augmentation([], seed=-1)
