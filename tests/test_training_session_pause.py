"""A paused run shows where it is: the batches since the last progress report reach the window when the
run waits (the Train tab showed epoch 4, batch 20 while the run had stopped at batch 60)."""
from __future__ import annotations

import threading
import time

import numpy as np

from cnncore.architecture import preset
from cnncore.datasets import generated_digits
from cnncore.network import Network
from cnncore.training import TrainConfig
from cnnapp.training_session import TrainingSession


def test_a_pause_sends_the_batches_run_so_far():
    X, y = generated_digits(3000, seed=0)
    net = Network(preset("tiny"), seed=0)
    sent = []
    session = TrainingSession(net, (X, y, None, None), TrainConfig(epochs=20, batch_size=16), X[:1],
                              lambda kind, *args: sent.append((kind, args)))
    batches = []
    run = threading.Thread(target=lambda: batches.append(session.run()))
    run.start()
    try:
        deadline = time.monotonic() + 60
        while not any(k == "progress" for k, _ in sent) and time.monotonic() < deadline:
            time.sleep(0.01)
        session.control("pause")
        time.sleep(0.5)                                   # the batch running ends, the run waits
        trainer = session.trainer
        assert trainer.paused
        reports = [a[0] for k, a in sent if k == "progress"]
        last = reports[-1]
        shown = sum(len(r["x"]) for r in reports)         # every batch so far, in the reports
        time.sleep(0.3)
        assert [a[0] for k, a in sent if k == "progress"][-1] is last            # nothing runs while paused
        assert shown == trainer._updates                                           # the last batch run is shown
        assert any(k == "snapshot" for k, _ in sent[-3:])                          # and its weights
    finally:
        session.control("stop")
        run.join(60)
    assert batches and batches[0].reason == "stopped"
