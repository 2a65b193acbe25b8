"""Which pictures a network learnt from (cnncore.learnt): fingerprints as pixel equality says, kept by
every run that updates the weights, carried by copies, model files and the training process."""
from __future__ import annotations

import numpy as np
import pytest

from cnncore.architecture import preset
from cnncore.learnt import NOTHING, checked_trained_on, fingerprints, learnt_count, remember
from cnncore.modelio import load_model, save_model
from cnncore.network import Network
from cnncore.training import BatchEvent, TrainConfig, Trainer
from conftest import same_pictures


def test_fingerprints_tell_pictures_apart_as_their_pixels_do():
    rng = np.random.default_rng(0)
    X = rng.integers(0, 256, (3000, 1, 8, 8), dtype=np.uint8)
    X[10] = X[20]                                               # one picture twice
    X[30] = X[31]
    X[30, 0, 7, 7] ^= 1                                         # and two that differ in one bit of one pixel
    prints = fingerprints(X)
    assert prints.dtype == np.uint64 and prints.shape == (3000,)
    assert prints[10] == prints[20] and prints[30] != prints[31]
    assert len(np.unique(prints)) == len({x.tobytes() for x in X}) == 2999
    assert np.array_equal(fingerprints(X.astype(np.float32) / 255), prints)     # as the network takes them
    assert np.array_equal(fingerprints(X.astype(np.float64) / 255), prints)
    assert np.array_equal(fingerprints(X[:, 0]), prints)                        # (N, H, W): one channel
    assert fingerprints(X.reshape(3000, 1, 4, 16))[0] != prints[0]              # same bytes, another shape
    assert fingerprints(X[:0]).shape == (0,)


def test_learnt_count_is_the_count_of_equal_pictures():
    rng = np.random.default_rng(1)
    net = Network(preset("tiny"), seed=0)
    assert net.trained_on is NOTHING and learnt_count(net, np.zeros((4, 28, 28), np.uint8)) == 0
    A = rng.integers(0, 256, (400, 28, 28), dtype=np.uint8)
    B = np.concatenate([A[::7], rng.integers(0, 256, (90, 28, 28), dtype=np.uint8), A[:3]])
    remember(net, fingerprints(A[:250]))
    remember(net, fingerprints(A[200:300]))                     # a second run, some pictures again
    assert len(net.trained_on) == 300 and not net.trained_on.flags.writeable
    assert learnt_count(net, B) == same_pictures(B, A[:300]) > 0
    assert learnt_count(net, A[300:]) == 0 and learnt_count(net, A[:300]) == 300
    assert learnt_count(net, prints=fingerprints(B)) == learnt_count(net, B)
    net.trained_on = None                                       # not known: stays so
    remember(net, fingerprints(A))
    assert net.trained_on is None and learnt_count(net, A) is None


def test_a_run_keeps_its_pictures_from_its_first_update_on():
    rng = np.random.default_rng(2)
    X, y = rng.integers(0, 256, (120, 28, 28), dtype=np.uint8), rng.integers(0, 10, 120)
    net = Network(preset("tiny"), seed=0)
    tr = Trainer(net, X[:100], y[:100], X[100:], y[100:], TrainConfig(epochs=2, batch_size=32))
    tr.stop()                                                   # stopped before any update: learnt nothing
    assert list(tr.run())[-1].reason == "stopped" and len(net.trained_on) == 0
    tr = Trainer(net, X[:100], y[:100], X[100:], y[100:], TrainConfig(epochs=2, batch_size=32))
    for ev in tr.run():
        if isinstance(ev, BatchEvent):                          # after the first update: every picture of the run
            assert learnt_count(net, X[:100]) == 100 and learnt_count(net, X[100:]) == 0
            tr.stop()
    copy = net.copy()
    assert copy.trained_on is net.trained_on
    Trainer(copy, X[60:], y[60:], config=TrainConfig(epochs=1, batch_size=32)).run().__next__()
    assert learnt_count(copy, X) == 120 and learnt_count(net, X) == 100       # the copy's run, not the original's


def test_model_files_keep_what_the_network_learnt_from(tmp_path):
    rng = np.random.default_rng(3)
    X = rng.integers(0, 256, (50, 28, 28), dtype=np.uint8)
    net = Network(preset("tiny"), seed=0)
    save_model(tmp_path / "new.npz", net)
    assert load_model(tmp_path / "new.npz").trained_on.shape == (0,)           # never trained: none
    remember(net, fingerprints(X))
    net.history = [{"epoch": 1}]
    save_model(tmp_path / "m.npz", net)
    back = load_model(tmp_path / "m.npz")
    assert np.array_equal(back.trained_on, net.trained_on) and learnt_count(back, X[::2]) == 25
    with np.load(tmp_path / "m.npz", allow_pickle=False) as data:             # an older version's file
        arrays = {k: data[k] for k in data.files if k != "trained_on"}
    np.savez(tmp_path / "old.npz", **arrays)
    assert load_model(tmp_path / "old.npz").trained_on is None                # trained: not known


@pytest.mark.parametrize("values, why", [(np.zeros(2, np.int64), "64-bit fingerprints"),
                                         (np.array([2, 1], np.uint64), "increasing order"),
                                         (np.zeros((1, 1), np.uint64), "64-bit fingerprints")])
def test_checked_trained_on_refuses_what_is_not_fingerprints(values, why):
    with pytest.raises(ValueError, match=why):
        checked_trained_on(values)
    assert checked_trained_on(np.array([1, 5], np.uint64)).flags.writeable is False


def test_the_training_process_carries_them_back():
    from cnnapp.training_session import network_from_parts, network_parts
    net = Network(preset("tiny"), seed=0)
    remember(net, fingerprints(np.ones((3, 28, 28), np.uint8)))
    other = network_from_parts(network_parts(net))
    assert np.array_equal(other.trained_on, net.trained_on) and len(other.trained_on) == 1


def test_what_crosses_the_process_pipe_stays_read_only_and_snapshots_leave_it_out():
    """A review: the unpickled fingerprints were writeable (and copies share them), and each snapshot of a
    run, twice a second, pickled them all (megabytes for a large set)."""
    import pickle
    from cnnapp.training_session import adopt_parts, network_parts
    net = Network(preset("tiny"), seed=0)
    remember(net, fingerprints(np.arange(3 * 784, dtype=np.uint8).reshape(3, 28, 28)))
    other = Network(preset("tiny"), seed=1)
    adopt_parts(other, pickle.loads(pickle.dumps(network_parts(net))))
    assert np.array_equal(other.trained_on, net.trained_on) and not other.trained_on.flags.writeable
    snap = network_parts(net, learnt=False)
    assert "trained_on" not in snap
    kept = other.trained_on
    adopt_parts(other, pickle.loads(pickle.dumps(snap)))
    assert other.trained_on is kept                             # a snapshot leaves them as they were
