"""earmark's log-mel front end against librosa, side by side in one process, 1 and 2 threads.

The same input for both: ``--windows`` one-second windows of noise and tones at 22.05 kHz,
n_fft 1024, hop 512, 64 bands, dB with an 80 dB floor. earmark: ``FeatureExtractor`` (the
front end every model trains and predicts with); librosa: ``librosa.feature.melspectrogram``
then ``librosa.power_to_db`` on the same batch. Also shown: the torch.stft front end earmark
used before (issue 23), kept here only as a yardstick. Thread counts are set for torch
(``torch.set_num_threads``) and for the BLAS and FFT pools librosa uses (threadpoolctl). Prints
audio-seconds per second (best of ``--repeats``, alternating the contenders so a busy
neighbour hurts all of them alike), the ratio earmark/librosa, CPU seconds per audio-second,
and the largest difference from librosa.

    python benchmarks/frontend_speed.py [--windows 256] [--repeats 7] [--threads 1 2]
"""

import argparse
import time

import librosa
import numpy as np
import torch
from threadpoolctl import threadpool_limits

from earmark.config import FeatureConfig
from earmark.features import FeatureExtractor


def _before(fx, y):
    """The torch front end of earmark before issue 23 (torch.stft, dense mel matmul)."""
    c = fx.config
    spec = torch.stft(y, n_fft=c.n_fft, hop_length=c.hop_length, window=fx.window, center=True,
                      pad_mode="constant", return_complex=True)
    power = spec.real.square() + spec.imag.square()
    db = 10.0 * torch.log10(torch.clamp(torch.matmul(fx.mel_basis, power), min=1e-10))
    peak = db.amax(dim=(-2, -1), keepdim=True)
    return torch.maximum(db, peak - c.top_db).unsqueeze(1)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--windows", type=int, default=256)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    args = ap.parse_args()
    config = FeatureConfig(sample_rate=22050, n_fft=1024, hop_length=512, n_mels=64,
                           window_s=1.0, top_db=80.0)
    sr = config.sample_rate
    rng = np.random.default_rng(0)
    t = np.arange(sr) / sr
    x = (0.1 * rng.standard_normal((args.windows, sr))).astype(np.float32)
    x[::2] += (0.5 * np.sin(2 * np.pi * rng.uniform(100, 8000, (args.windows // 2 + 1, 1))
                            * t))[:len(x[::2])].astype(np.float32)
    fx = FeatureExtractor(config)
    xt = torch.from_numpy(x)

    def earmark_now():
        with torch.inference_mode():
            return fx(xt)

    def earmark_before():
        with torch.inference_mode():
            return _before(fx, xt)

    def librosa_db():
        S = librosa.feature.melspectrogram(y=x, sr=sr, n_fft=config.n_fft,
                                           hop_length=config.hop_length, n_mels=config.n_mels,
                                           center=True, pad_mode="constant")
        return librosa.power_to_db(S, ref=1.0, amin=1e-10, top_db=config.top_db)

    ref = librosa_db()
    got = earmark_now()[:, 0].numpy()
    # librosa floors at 80 dB below the batch's peak, earmark below each window's: compare
    # the values above both floors
    valid = ref > ref.max() - config.top_db
    valid &= got > got.max(axis=(-2, -1), keepdims=True) - config.top_db
    diff = float(np.abs(got - ref)[valid & (ref > ref.max() - 60)].max())
    audio_s = args.windows * 1.0
    contenders = {"earmark FeatureExtractor": earmark_now, "librosa": librosa_db,
                  "earmark before (torch.stft)": earmark_before}
    print(f"{args.windows} one-second windows at {sr} Hz, n_fft {config.n_fft}, hop "
          f"{config.hop_length}, {config.n_mels} bands, top_db {config.top_db:g}; best of "
          f"{args.repeats}")
    print(f"max |earmark - librosa| within 60 dB of the peak: {diff:.1e} dB")
    before_threads = torch.get_num_threads()
    for n in args.threads:
        torch.set_num_threads(n)
        with threadpool_limits(n):
            for f in contenders.values():
                f()                                     # warm-up (plans, pools, caches)
            best = {k: (np.inf, np.inf) for k in contenders}
            for _ in range(args.repeats):
                for name, f in contenders.items():
                    w0, c0 = time.perf_counter(), time.process_time()
                    f()
                    w, c = time.perf_counter() - w0, time.process_time() - c0
                    best[name] = (min(best[name][0], w), min(best[name][1], c))
        speed = {k: audio_s / w for k, (w, _) in best.items()}
        print(f"{n} thread{'s' if n > 1 else ''}:")
        for name, (w, c) in best.items():
            print(f"  {name:28s} {speed[name]:8.0f} audio-s/s  ({1e3 * c / audio_s:.2f} ms "
                  "CPU per audio-s)")
        ratio = speed["earmark FeatureExtractor"] / speed["librosa"]
        print(f"  ratio earmark / librosa: {ratio:.2f}x  (before: "
              f"{speed['earmark before (torch.stft)'] / speed['librosa']:.2f}x)")
    torch.set_num_threads(before_threads)


if __name__ == "__main__":
    main()
