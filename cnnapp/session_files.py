"""What the app keeps between launches besides its settings: the network in use (unless it is the
starter model), whether it was saved to a file of the learner's and the file it was opened from or
saved to (it is called by that file's name after a restart), the held-out pictures it is
offered (:mod:`cnncore.datasets.kept`: a folder's or a downloaded set's would otherwise be gone
until the next run), the Build tab's edits not in use yet (an architecture file, read as one the
learner opens) and the Draw tab's sheet. Written on close (by the window that keeps the session,
:mod:`cnnapp.session_keeper`), read at the start; closing never fails for them."""
from __future__ import annotations

import contextlib
from pathlib import Path

from . import settings as st
from .state.samples import SampleSet
from .state.settings_store import set_aside

__all__ = ["first_network", "resume", "save", "save_edits", "kept_edits", "save_drawing", "kept_drawing"]

#: Whether the network kept for the next launch was trained and never saved to a file of the learner's.
_UNSAVED = "session/unsaved"
#: The learner's model file that network was opened from or saved to (the session's ``model_file``), if any.
_MODEL_FILE = "session/model_file"


def first_network(session, reopen: bool = True) -> list[str]:
    """Give ``session`` the network a window starts with: the last session's (``reopen``), else the
    starter model, else an untrained one; what to tell the user of it (a file that could not be used)."""
    notes = []
    if reopen:
        resumed, note = resume(session)
        if resumed:
            return []
        notes = [note] if note else []
    try:
        from cnncore.modelio import load_model
        net = load_model(str(st.starter_model_path()))
        session.set_network(net, "the starter model (trained on generated digits)", trained=True, starter=True)
        return notes
    except Exception as e:  # noqa: BLE001 - missing or unreadable starter model
        reason = str(e)
    try:
        from cnncore.architecture import DEFAULT_PRESET, preset
        from cnncore.network import Network
        session.set_network(Network(preset(DEFAULT_PRESET), seed=0),
                            "an untrained network (random weights): train it on the Train tab", trained=False)
    except Exception as e2:  # noqa: BLE001
        reason += f"; no network could be built: {e2}"
    return notes + [f"The starter model could not be loaded ({reason})."]


def resume(session) -> tuple[bool, str]:
    """Give ``session`` the network the last session closed with, and its pictures: ``(resumed, what to
    tell the user)``. A file that cannot be read is set aside (kept for a later version of the app, or
    to mend: closing would write over it), and the caller falls back on the starter model."""
    path = st.session_model_path()
    if not path.exists():
        if st.store().get(_UNSAVED, False):         # (the settings say it was there, trained, never saved)
            return False, (f"The network of the last session, trained and not saved, could not be found ({path} "
                           "is gone); using the starter model.")
        return False, ""
    try:
        from cnncore.modelio import load_model
        net = load_model(str(path))
    except Exception as e:  # noqa: BLE001 - a bad file: fall back on the starter model
        text = f"Could not reopen the network of the last session ({e}); using the starter model."
        try:
            text += f" The file is kept as {set_aside(path, keep_suffix=True)}."
        except OSError:
            pass
        return False, text
    unsaved, file = st.store().get(_UNSAVED, False), st.store().get(_MODEL_FILE, "")
    file = Path(file) if file else None
    session.set_network(net, _resumed_name(net, file, unsaved), trained=True, unsaved=unsaved, file=file)
    _resume_pictures(session, net)
    return True, ""


def _resumed_name(net, file: Path | None, unsaved: bool) -> str:
    """What the last session's network is called after a restart: by the file it was opened from or saved
    to, where there is one (trained further since, and not saved: said so); else by its architecture."""
    if file is not None:
        return f"{file.name}, trained further in your last session (not saved)" if unsaved else \
            f"{file.name} (from your last session)"
    from cnncore.architecture import preset_of
    name = preset_of(net.spec)
    return f"the {name + ' ' if name else ''}network of your last session"


def _resume_pictures(session, net) -> None:
    """The held-out pictures the last session kept for ``net``; a file that cannot be read, or is
    another network's, is left unused."""
    from cnncore.datasets.kept import KeptFileError, load_kept
    path = st.session_samples_path()
    if not path.exists():
        return
    try:
        X, y, classes, name = load_kept(path, net)
    except (KeptFileError, OSError):
        return
    session.samples.keep(SampleSet(X, y, classes, name))


def save(session) -> None:
    """Keep ``session``'s network for the next launch, unless it is the starter model, and the
    held-out pictures it is offered; never raises (the files and the flag stay as they were)."""
    net = session.network
    path = st.session_model_path()
    try:
        if net is None or session.is_starter:
            if path.exists():
                path.unlink()
        else:
            from cnncore.modelio import save_model
            save_model(str(path), net, history=getattr(net, "history", None))
    except Exception:  # noqa: BLE001 - closing must never fail
        return
    st.store().set(_UNSAVED, bool(session.unsaved))       # (Open model then asks before replacing it)
    kept = net is not None and not session.is_starter and session.model_file
    st.store().set(_MODEL_FILE, str(session.model_file) if kept else "")       # (its name after the restart)
    _save_pictures(session, None if net is None or session.is_starter else net)


def _save_pictures(session, net) -> None:
    """The held-out pictures ``net`` is offered, or none (never an earlier network's left behind)."""
    from cnncore.datasets.kept import save_kept
    path = st.session_samples_path()
    held = session.samples.held_out
    try:
        if net is not None and held is not None and held.fits(net) and save_kept(path, net, held.X, held.y,
                                                                                 held.name):
            return
    except Exception:  # noqa: BLE001 - closing must never fail; the pictures are a convenience
        pass
    with contextlib.suppress(OSError):
        path.unlink(missing_ok=True)


def save_edits(spec: dict | None) -> None:
    """Keep the Build tab's edits not in use (``spec``; None: there are none) for the next launch;
    never raises."""
    import json

    from cnncore import atomic_write_text
    path = st.session_edits_path()
    with contextlib.suppress(OSError):
        if spec is None:
            path.unlink(missing_ok=True)
        else:
            atomic_write_text(path, json.dumps(spec, indent=1) + "\n")


def kept_edits() -> dict | None:
    """The Build tab's edits the last session closed with, or None (none, or a file that is not an
    architecture: it is replaced at the next close)."""
    from cnncore import read_regular
    from cnncore.architecture import parse_architecture
    from cnncore.limits import MAX_ARCH_TEXT
    path = st.session_edits_path()
    if not path.exists():
        return None
    try:
        return parse_architecture(read_regular(path, 4 * MAX_ARCH_TEXT).decode("utf-8"))
    except Exception:  # noqa: BLE001 - a damaged file: the edits are a convenience
        return None


#: The largest sheet kept (the canvas's is 280×280).
_MAX_SHEET = 2000


def save_drawing(ink) -> None:
    """Keep the Draw tab's sheet (``ink``: 2-D, [0, 1]; None: an empty sheet or the example) for the next
    launch, so a digit drawn is not lost to a restart; never raises."""
    import io

    import numpy as np

    from cnncore import atomic_write_bytes
    path = st.session_drawing_path()
    with contextlib.suppress(OSError, ValueError):
        if ink is None:
            path.unlink(missing_ok=True)
            return
        buf = io.BytesIO()
        np.save(buf, np.round(np.clip(np.asarray(ink, np.float32), 0, 1) * 255).astype(np.uint8),
                allow_pickle=False)
        atomic_write_bytes(path, buf.getvalue())


def kept_drawing():
    """The sheet the last session closed with, floats ``(H, W)`` in [0, 1], or None (none, or a file that
    is not one: it is replaced at the next close)."""
    import numpy as np

    from cnncore import read_regular
    path = st.session_drawing_path()
    if not path.exists():
        return None
    try:
        import io
        a = np.load(io.BytesIO(read_regular(path, _MAX_SHEET ** 2 + 1024)), allow_pickle=False)
    except Exception:  # noqa: BLE001 - a damaged file: the drawing is a convenience
        return None
    if a.dtype != np.uint8 or a.ndim != 2 or not 8 <= min(a.shape) <= max(a.shape) <= _MAX_SHEET:
        return None
    return a.astype(np.float32) / 255
