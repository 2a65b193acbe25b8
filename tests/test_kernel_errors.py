"""Every wrong call to a kernel raises a clear error, and none can crash the process.

The bad calls run in a child process: with bounds checks off, a call that
slipped past validation could segfault, and that must fail this test rather
than take pytest down with it.
"""
import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import cnncore

# (id, call, exception type, words the message must contain)
CASES = [
    ("x-3d", "conv2d_forward(np.zeros((1, 5, 5)), W, B)", "ValueError", r"x must be 4-D .*\(1, 5, 5\)"),
    ("w-2d", "conv2d_forward(X, np.zeros((3, 3)), B)", "ValueError", r"w must be 4-D"),
    ("b-2d", "conv2d_forward(X, W, np.zeros((2, 1)))", "ValueError", r"b must be 1-D"),
    ("b-length", "conv2d_forward(X, W, np.zeros(3))", "ValueError", r"b must have shape \(2,\).*got shape \(3,\)"),
    ("channels", "conv2d_forward(X, np.zeros((2, 3, 3, 3)), B)", "ValueError",
     r"w has 3 input channels .* x has 1 channels"),
    ("kernel-too-big", "conv2d_forward(X, np.zeros((2, 1, 9, 9)), B)", "ValueError",
     r"9×9 window .* needs an input of at least 9×9 but gets 8×8"),
    ("kernel-too-big-padded", "conv2d_forward(X, np.zeros((2, 1, 11, 3)), B, padding=1)", "ValueError",
     r"at least 9×1 but gets 8×8"),
    ("stride-0", "conv2d_forward(X, W, B, stride=0)", "ValueError", r"stride must be at least 1"),
    ("stride-neg", "conv2d_forward(X, W, B, stride=(1, -2))", "ValueError", r"stride must be at least 1"),
    ("stride-float", "conv2d_forward(X, W, B, stride=1.5)", "TypeError", r"stride must be an int or a pair"),
    ("padding-neg", "conv2d_forward(X, W, B, padding=-1)", "ValueError", r"padding must be at least 0"),
    ("padding-triple", "conv2d_forward(X, W, B, padding=(1, 1, 1))", "TypeError", r"padding must be an int"),
    ("empty-batch", "conv2d_forward(np.zeros((0, 1, 8, 8)), W, B)", "ValueError", r"x must have at least one"),
    ("zero-filters", "conv2d_forward(X, np.zeros((0, 1, 3, 3)), np.zeros(0))", "ValueError", r"w must have at least one"),
    ("complex", "conv2d_forward(X.astype(complex), W, B)", "TypeError", r"x must hold real numbers"),
    ("strings", "conv2d_forward(np.full((1, 1, 8, 8), 'a'), W, B)", "TypeError", r"x must hold real numbers"),
    ("object", "conv2d_forward(X, W, [None, None])", "TypeError", r"b must hold real numbers"),
    ("dz-shape", "conv2d_backward(np.zeros((1, 2, 5, 5)), X, W)", "ValueError",
     r"dz must have shape \(1, 2, 6, 6\).*got shape \(1, 2, 5, 5\)"),
    ("dz-batch", "conv2d_backward(np.zeros((2, 2, 6, 6)), X, W)", "ValueError", r"dz must have shape \(1, 2, 6, 6\)"),
    ("dz-3d", "conv2d_backward(np.zeros((2, 6, 6)), X, W)", "ValueError", r"dz must be 4-D"),
    ("back-channels", "conv2d_backward(np.zeros((1, 2, 6, 6)), X, np.zeros((2, 2, 3, 3)))", "ValueError",
     r"w has 2 input channels"),
    ("pool-size-0", "maxpool2d_forward(X, 0)", "ValueError", r"size must be at least 1"),
    ("pool-too-big", "maxpool2d_forward(X, 9)", "ValueError", r"needs an input of at least 9×9 but gets 8×8"),
    ("pool-stride-0", "avgpool2d_forward(X, 2, 0)", "ValueError", r"stride must be at least 1"),
    ("pool-stride-huge", "maxpool2d_forward(X, 2, 2**63)", "ValueError", r"stride must be at most"),
    ("padding-huge", "conv2d_forward(X, W, B, padding=2**40)", "ValueError", r"padding must be at most"),
    ("pool-3d", "maxpool2d_forward(np.zeros((8, 8, 1)), 2)", "ValueError", r"x must be 4-D"),
    ("pool-empty", "avgpool2d_forward(np.zeros((1, 0, 8, 8)), 2)", "ValueError", r"at least one element"),
    ("argmax-out-of-range", "maxpool2d_backward(np.ones((1, 1, 2, 2)), np.full((1, 1, 2, 2), 99), (1, 1, 4, 4))",
     "ValueError", r"argmax holds 4 indices outside the 4×4 input plane"),
    ("argmax-negative", "maxpool2d_backward(np.ones((1, 1, 2, 2)), np.full((1, 1, 2, 2), -1), (1, 1, 4, 4))",
     "ValueError", r"outside the 4×4 input plane"),
    ("argmax-float", "maxpool2d_backward(np.ones((1, 1, 2, 2)), np.zeros((1, 1, 2, 2)), (1, 1, 4, 4))",
     "TypeError", r"argmax must hold integer"),
    ("argmax-shape", "maxpool2d_backward(np.ones((1, 1, 2, 2)), np.zeros((1, 1, 2, 1), int), (1, 1, 4, 4))",
     "ValueError", r"argmax must have the shape of dy"),
    ("maxback-channels", "maxpool2d_backward(np.ones((1, 2, 2, 2)), np.zeros((1, 2, 2, 2), int), (1, 1, 4, 4))",
     "ValueError", r"dy must have N=1 and C=1"),
    ("input-shape-3", "maxpool2d_backward(np.ones((1, 1, 2, 2)), np.zeros((1, 1, 2, 2), int), (1, 4, 4))",
     "TypeError", r"input_shape must be 4 ints"),
    ("input-shape-0", "avgpool2d_backward(np.ones((1, 1, 2, 2)), (1, 1, 0, 4), 2)", "ValueError",
     r"input_shape must have every size >= 1"),
    ("avg-dy-shape", "avgpool2d_backward(np.ones((1, 1, 3, 2)), (1, 1, 4, 4), 2)", "ValueError",
     r"dy must have shape \(1, 1, 2, 2\)"),
]

CHILD = textwrap.dedent("""
    import json, sys
    import numpy as np
    from cnncore import *
    X = np.zeros((1, 1, 8, 8)); W = np.zeros((2, 1, 3, 3)); B = np.zeros(2)
    out = {}
    for name, call in json.loads(sys.stdin.read()):
        try:
            eval(call)
            out[name] = ["no error", ""]
        except (ValueError, TypeError) as exc:   # report the documented base class
            out[name] = [ValueError.__name__ if isinstance(exc, ValueError) else "TypeError", str(exc)]
        except Exception as exc:
            out[name] = [type(exc).__name__, str(exc)]
    print(json.dumps(out))
""")


@pytest.fixture(scope="module")
def outcomes():
    # the child imports the same cnncore as this process, installed or built in place
    root = Path(cnncore.__file__).resolve().parents[1]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")]))
    proc = subprocess.run([sys.executable, "-c", CHILD], input=json.dumps([c[:2] for c in CASES]),
                          capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, f"the child process died ({proc.returncode}):\n{proc.stderr}"
    return json.loads(proc.stdout)


@pytest.mark.parametrize("name,call,exc,pattern", CASES, ids=[c[0] for c in CASES])
def test_bad_call_raises_clear_error(outcomes, name, call, exc, pattern):
    got_type, message = outcomes[name]
    assert got_type == exc, f"{call} raised {got_type}: {message}"
    assert re.search(pattern, message), f"message {message!r} does not match {pattern!r}"
