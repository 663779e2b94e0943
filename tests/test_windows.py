"""earmark.windows: window placement, streaming windows, and window → clip aggregation."""

import numpy as np
import pytest

from earmark.windows import aggregate, frame_windows, iter_windows, window_starts


# -- placement -----------------------------------------------------------------------------------

@pytest.mark.parametrize("n, window, hop, starts", [
    (25, 10, 5, [0, 5, 10, 15]),            # the last window ends exactly at the end
    (27, 10, 5, [0, 5, 10, 15, 17]),        # end not covered: one more window, flush with it
    (4, 10, 5, [0]),                        # shorter than a window: one window
    (10, 10, 5, [0]),                       # exactly one window
    (11, 10, 5, [0, 1]),
    (35, 10, 15, [0, 15, 25]),              # hop > window leaves gaps, the end is still covered
    (40, 10, 15, [0, 15, 30]),
    (30, 10, 10, [0, 10, 20]),
    (31, 10, 1, list(range(22))),
])
def test_window_starts(n, window, hop, starts):
    got = window_starts(n, window, hop)
    assert got.dtype == np.int64
    assert got.tolist() == starts


def test_short_clip_is_one_window_with_zeros_after_the_audio():
    y = np.arange(1, 5, dtype=np.float32)
    w, s = frame_windows(y, 7, 3)
    assert w.dtype == np.float32
    assert w.tolist() == [[1, 2, 3, 4, 0, 0, 0]]
    assert s.tolist() == [0]


def test_frame_windows_cut_the_signal_at_the_starts():
    y = np.arange(27, dtype=np.float32)
    w, s = frame_windows(y, 10, 5)
    assert s.tolist() == [0, 5, 10, 15, 17]
    assert w.shape == (5, 10)
    for row, start in zip(w, s):
        np.testing.assert_array_equal(row, y[start:start + 10])
    np.testing.assert_array_equal(w[-1], y[-10:])       # flush with the end, no padding


def _split(y, sizes, rng):
    """Cut ``y`` into consecutive blocks whose sizes cycle through ``sizes`` (with empties)."""
    out, i = [], 0
    while i < len(y):
        k = int(rng.choice(sizes))
        out.append(y[i:i + k])
        i += k
    return out


@pytest.mark.parametrize("window, hop", [(10, 5), (10, 10), (10, 3), (10, 17), (64, 1), (7, 100)])
@pytest.mark.parametrize("n", [1, 6, 9, 10, 11, 50, 101, 333])
def test_iter_windows_equals_frame_windows(rng, window, hop, n):
    y = rng.standard_normal(n).astype(np.float32)
    expected_w, expected_s = frame_windows(y, window, hop)
    for sizes in ([1], [3], [window], [window + 1], [2 * window + 3], [0, 1, 7, 40], [n]):
        for batch in (1, 3, 256):
            got = list(iter_windows(_split(y, sizes, rng), window, hop, batch=batch))
            assert all(len(s) <= batch for _, s in got)
            w = np.concatenate([w for w, _ in got])
            s = np.concatenate([s for _, s in got])
            np.testing.assert_array_equal(s, expected_s, err_msg=f"blocks {sizes}")
            np.testing.assert_array_equal(w, expected_w, err_msg=f"blocks {sizes}")


def test_iter_windows_streams_instead_of_reading_everything_first():
    # 1000 blocks of 100 samples, window = hop = 50, batch 8: windows come out block by block
    # (at most `batch` at a time), not after the whole stream was read.
    consumed = []

    def blocks():
        for i in range(1000):
            consumed.append(i)
            yield np.full(100, i, np.float32)

    it = iter_windows(blocks(), 50, 50, batch=8)
    w, s = next(it)
    assert s.tolist() == [0, 50] and w[:, 0].tolist() == [0, 0]
    assert len(consumed) == 1
    for _ in range(3):
        w, s = next(it)
    assert s.tolist() == [300, 350] and w[:, 0].tolist() == [3, 3]
    assert len(consumed) == 4
    big = iter_windows(iter([np.zeros(1000, np.float32)]), 50, 50, batch=8)
    assert [len(s) for _, s in big] == [8, 8, 4]


# -- aggregation ---------------------------------------------------------------------------------

SCORES = np.array([[0.6, 0.3, 0.1],
                   [0.2, 0.7, 0.1],
                   [0.1, 0.5, 0.4],
                   [0.3, 0.1, 0.6]])


def test_mean_aggregation_averages_windows():
    np.testing.assert_allclose(aggregate(SCORES, method="mean"), [0.3, 0.4, 0.3])


def test_max_aggregation_renormalises_the_per_class_maxima():
    np.testing.assert_allclose(aggregate(SCORES, method="max"),
                               np.array([0.6, 0.7, 0.6]) / 1.9)


def test_vote_aggregation_is_the_share_of_windows_won():
    got = aggregate(SCORES, method="vote")
    np.testing.assert_allclose(got, [0.25, 0.5, 0.25], atol=1e-6)
    assert int(np.argmax(got)) == 1


@pytest.mark.parametrize("scores, winner", [
    ([[0.9, 0.1], [0.4, 0.6]], 0),                  # 1 vote each; mean 0.65 vs 0.35
    ([[0.6, 0.4], [0.1, 0.9]], 1),                  # 1 vote each; mean 0.35 vs 0.65
    ([[0.7, 0.2, 0.1], [0.1, 0.3, 0.6]], 0),        # 0 and 2 tie; mean 0.40 vs 0.35
    ([[0.55, 0.4, 0.05], [0.05, 0.1, 0.85]], 2),    # 0 and 2 tie; mean 0.30 vs 0.45
])
def test_vote_ties_go_to_the_higher_mean_probability(scores, winner):
    scores = np.array(scores)
    got = aggregate(scores, method="vote")
    votes = np.bincount(np.argmax(scores, axis=1), minlength=scores.shape[1]) / len(scores)
    np.testing.assert_allclose(got, votes, atol=1e-6)
    assert int(np.argmax(got)) == winner


def test_single_window_aggregation_returns_it():
    row = np.array([[0.2, 0.5, 0.3]])
    np.testing.assert_allclose(aggregate(row, method="mean"), row[0])
    np.testing.assert_allclose(aggregate(row, method="max"), row[0])
    np.testing.assert_allclose(aggregate(row, method="vote"), [0, 1, 0], atol=1e-6)
