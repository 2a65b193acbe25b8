"""Build tab: edit the architecture, see every layer's shape and cost, apply it to a new network."""
from __future__ import annotations

from pathlib import Path

from PySide6 import QtCore, QtGui, QtWidgets

from cnncore import Output, atomic_write_text

from ..settings import data_dir
from ..state.lesson_player import ending_lesson
from cnncore.layers import LAYER_TYPES

from ..widgets.arch_editor import ArchitectureEditor
from ..widgets.confirm import confirm_discard
from ..widgets.flow_layout import FlowLayout, flow_row
from ..widgets.font_fit import lines_high


class BuildView(QtWidgets.QWidget):
    def __init__(self, session, parent=None):
        super().__init__(parent)
        self.session = session
        self.editor = ArchitectureEditor()
        self.editor.specChanged.connect(self._on_spec_changed)
        self.editor.refused.connect(lambda text: self.session.say(text, 8000))
        self.session.training_changed.connect(lambda on: self._on_spec_changed())
        # Replaced in tests; asks before throwing trained weights away.
        self.confirm = lambda text: confirm_discard(self, text)
        self._applied: dict | None = None    # the architecture in use, as the table showed it
        self._draft: dict | None = None      # edits not in use that another network replaced

        lay = QtWidgets.QVBoxLayout(self)
        lay.addLayout(self._build_bar())
        lay.addWidget(self.editor, 1)
        lay.addWidget(self._build_status())
        lay.addLayout(self._build_apply_row())
        self._fill_presets()
        self.session.model_changed.connect(self._on_network)
        self._on_network()

    def _build_bar(self) -> FlowLayout:
        """Presets; add, remove and move layers; open and save the architecture: on as many lines as the
        width needs."""
        self.preset_combo = QtWidgets.QComboBox()
        self.preset_combo.setObjectName("presetCombo")
        self.preset_combo.setAccessibleName("Preset architecture")
        self.preset_combo.setToolTip("Ready-made architectures to start from")
        load_preset = QtWidgets.QPushButton("Load preset")
        load_preset.setToolTip("Replace the table by the chosen preset")
        load_preset.clicked.connect(lambda: self.load_preset(self.preset_combo.currentText()))
        remove = QtWidgets.QPushButton("Remove")
        remove.setObjectName("removeLayerButton")
        remove.setToolTip("Delete the selected layer")
        remove.clicked.connect(lambda: self.editor.remove_layer())
        up = QtWidgets.QPushButton("Move up")
        up.setToolTip("Move the selected layer one place towards the input (Alt+Up)")
        up.setShortcut(QtGui.QKeySequence("Alt+Up"))
        up.clicked.connect(lambda: self.editor.move_layer(None, -1))
        down = QtWidgets.QPushButton("Move down")
        down.setToolTip("Move the selected layer one place towards the output (Alt+Down)")
        down.setShortcut(QtGui.QKeySequence("Alt+Down"))
        down.clicked.connect(lambda: self.editor.move_layer(None, +1))
        open_b = QtWidgets.QPushButton("Open…")
        open_b.setToolTip("Open an architecture JSON file")
        open_b.clicked.connect(self.open_dialog)
        save_b = QtWidgets.QPushButton("Save…")
        save_b.setToolTip("Save this architecture as JSON")
        save_b.clicked.connect(self.save_dialog)
        return flow_row([QtWidgets.QLabel("Preset"), self.preset_combo, load_preset],
                        self._build_add_button(), remove, up, down, [open_b, save_b], spacing=16)

    def _build_add_button(self) -> QtWidgets.QToolButton:
        """Add layer, with a menu of every layer type in the registry."""
        add = QtWidgets.QToolButton()
        add.setText("Add layer")
        add.setObjectName("addLayerButton")
        add.setToolTip("Insert a layer below the selected one (Ctrl+Shift+A)")
        add.setPopupMode(QtWidgets.QToolButton.InstantPopup)
        menu = QtWidgets.QMenu(add)
        for kind, cls in LAYER_TYPES.items():
            act = menu.addAction(cls.title)
            act.triggered.connect(lambda _=False, k=kind: self.editor.add_layer(k))
        add.setMenu(menu)
        QtGui.QShortcut(QtGui.QKeySequence("Ctrl+Shift+A"), self, add.showMenu)
        return add

    def _build_status(self) -> QtWidgets.QLabel:
        self.status = QtWidgets.QLabel("")
        self.status.setObjectName("buildStatusLabel")
        self.status.setWordWrap(True)
        self.status.setTextFormat(QtCore.Qt.PlainText)
        lines_high(self.status, least=2.85)
        return self.status

    def _build_apply_row(self) -> QtWidgets.QHBoxLayout:
        """The totals of the table and Use this network."""
        self.totals = QtWidgets.QLabel("")
        self.totals.setObjectName("buildTotals")
        self.totals.setWordWrap(True)              # (zoomed, it pushed Use this network off the page)
        self.apply_button = QtWidgets.QPushButton("Use this network")
        self.apply_button.setObjectName("buildApplyButton")
        self.apply_button.setToolTip("Build a fresh network with this architecture (new random weights).\n"
                                     "Ctrl+Return")
        self.apply_button.setShortcut(QtGui.QKeySequence("Ctrl+Return"))
        self.apply_button.clicked.connect(lambda: self.apply())
        self.back_button = QtWidgets.QPushButton("Back to my edits")
        self.back_button.setObjectName("buildBackButton")
        self.back_button.setToolTip("Put back the table as you had edited it before another network was\n"
                                    "opened or built (your edits were not in use yet)")
        self.back_button.clicked.connect(self.back_to_edits)
        self.back_button.hide()
        bottom = QtWidgets.QHBoxLayout()
        bottom.addWidget(self.totals, 1)
        bottom.addWidget(self.back_button)
        bottom.addWidget(self.apply_button)
        return bottom

    def _fill_presets(self) -> None:
        try:
            from cnncore.architecture import DEFAULT_PRESET, PRESETS
            from cnncore.signature import Signature
            self.preset_combo.addItems(sorted(PRESETS))
            for k in range(self.preset_combo.count()):
                spec = PRESETS[self.preset_combo.itemText(k)]
                self.preset_combo.setItemData(k, f"{spec.get('description', '')} Input: "
                                              f"{Signature(tuple(spec['input'])).words()}.", QtCore.Qt.ToolTipRole)
            self.preset_combo.setCurrentText(DEFAULT_PRESET)
        except Exception as e:
            self.status.setText(f"Architectures are not available: {e}")

    # --------------------------------------------------------------- actions
    def _on_network(self) -> None:
        """Show the network now in use. Edits not used yet are never lost: where its architecture is the
        one the edits started from they stay in the table, else "Back to my edits" puts them back."""
        net = self.session.network
        if net is None:
            return
        before, edits = self._applied, self.editor.spec()
        self.editor.set_spec(net.spec)
        now = self.editor.spec()
        if before is not None and edits != before and edits != now:
            if now == before:
                self.editor.set_spec(edits)
            else:
                self._draft = edits
                self.back_button.show()
        self._applied = now
        if self._draft == now:                  # the edits are this network's: in use now
            self._draft = None
            self.back_button.hide()
        self._on_spec_changed()

    def back_to_edits(self) -> bool:
        """The table as the user had edited it before another network replaced it (asked first where
        the table has been edited since)."""
        if self._draft is None:
            return False
        if self.editor.spec() != self._applied and not self.confirm(
                "Put back your earlier edits? The changes made to the table since then are dropped."):
            return False
        draft, self._draft = self._draft, None
        self.back_button.hide()
        self.editor.set_spec(draft)
        self._on_spec_changed()
        return True

    def edits_not_in_use(self) -> dict | None:
        """The architecture the learner edited and has not used: the table where it differs from the
        network in use, else the edits "Back to my edits" would put back; None where there are none."""
        table = self.editor.spec()
        if self._applied is not None and table != self._applied:       # (a layer that does not fit too)
            return table
        return self._draft

    def offer_edits(self, spec: dict) -> bool:
        """Edits kept from the last session: offered by "Back to my edits" (the table shows the network
        in use), unless they are that network's architecture. Whether they are offered."""
        if spec == self._applied:
            return False
        self._draft = spec
        self.back_button.show()
        self._on_spec_changed()
        return True

    def load_preset(self, name: str) -> None:
        from cnncore.architecture import preset
        try:
            self.editor.set_spec(preset(name))
        except Exception as e:
            self._error(str(e))

    def use_preset(self, name: str) -> bool:
        """Build a new network of preset ``name`` (asked for elsewhere: the Train tab, when the network
        in use cannot take the source's pictures); refused as :meth:`apply` refuses. Edits of the table
        not in use yet are kept, as when another network is opened ("Back to my edits"), and stay in the
        table where the preset is refused."""
        table, chosen = self.editor.spec(), self.preset_combo.currentText()
        keep = table if self._applied is not None and table != self._applied else self._draft
        self.load_preset(name)
        self.preset_combo.setCurrentText(name)
        if not self.apply():                   # the table and the box as they were: the network stays
            self.editor.set_spec(table)
            self.preset_combo.setCurrentText(chosen)
            return False
        if keep is not None and keep != self._applied:
            self._draft = keep
            self.back_button.show()
            self._on_spec_changed()
        return True

    def _on_spec_changed(self) -> None:
        ok = self.editor.valid()
        self.apply_button.setEnabled(ok and not self.session.training)
        if ok:
            params, macs = self.editor.totals()
            self.totals.setText(f"{len(self.editor.spec()['layers'])} layers · {params:,} parameters · "
                                f"{macs:,} multiply-adds per image")
            changed = self._applied != self.editor.spec()
            cautions = self.editor.cautions()         # (allowed, and said: it may be what the learner tries out)
            self.status.setStyleSheet("color: #9a6700;" if cautions else "color: #2a6;")
            self.status.setText("Every layer fits." + (" Press “Use this network” to build it." if changed else
                                                       " This is the network in use.")
                                + (" Your edits to the network before it were not in use: “Back to my edits” "
                                   "puts them back." if self._draft is not None else "")
                                + "".join(f" {c}" for c in cautions))
        else:
            self.totals.setText("")
            self.status.setStyleSheet("color: #b00020;")
            self.status.setText("Cannot be trained yet: " + (self.editor.problem() or "?"))

    def apply(self) -> bool:
        """Build a new network from the table. Refused (returns False, says why) when a layer
        does not fit, while training runs, or when the user keeps the trained weights."""
        if not self.editor.valid():
            self._error("Cannot be trained yet: " + (self.editor.problem() or "?"))
            self.session.say("The architecture does not fit: " + (self.editor.problem() or "?"))
            return False
        if self.session.training:
            self.session.say("Stop the training before changing the network.")
            return False
        question = ending_lesson(self.session, "Building a new network")     # (the lesson's file keeps its weights)
        if question is not None:
            if not self.confirm(question):
                return False
        elif self.session.trained and not self.confirm(
                "The current network has trained weights. Build the new architecture and discard them?"):
            return False
        from cnncore.network import Network
        try:
            net = Network(self.editor.spec(), seed=0)
        except Exception as e:
            self._error(f"Could not build the network: {e}")
            return False
        self._draft, self._applied = None, self.editor.spec()     # (the edits are in use now)
        self.back_button.hide()
        self.session.set_network(net, "a new, untrained network (random weights)", trained=False)
        self.session.say("New network built: its weights are random until you train it.")
        return True

    def _error(self, text: str) -> None:
        self.status.setStyleSheet("color: #b00020;")
        self.status.setText(text)

    def open_file(self, path) -> bool:
        from cnncore import read_regular
        from cnncore.limits import MAX_ARCH_TEXT
        try:
            data = read_regular(path, 4 * MAX_ARCH_TEXT)                    # never a FIFO or a device
            self.editor.set_spec(data)          # (a model file, a picture: said what it seems to be)
        except OSError as e:
            self._error(f"Could not open {Path(path).name}: {e.strerror or e}")
            return False
        except Exception as e:
            self._error(f"Could not open {Path(path).name}: {e}")
            return False
        self.session.say(f"Opened {Path(path).name}")
        return True

    def save_file(self, path) -> bool:
        try:
            atomic_write_text(Output(path, self.session.kept_files()), self.editor.to_json() + "\n")
        except Exception as e:
            self._error(f"Could not save {Path(path).name}: {e}")
            return False
        self.session.say(f"Saved {Path(path).name}")
        return True

    def open_dialog(self) -> None:
        path, _ = QtWidgets.QFileDialog.getOpenFileName(self, "Open architecture", str(data_dir()),
                                                        "Architecture (*.json)")
        if path:
            self.open_file(path)

    def save_dialog(self) -> None:
        path, _ = QtWidgets.QFileDialog.getSaveFileName(self, "Save architecture",
                                                        str(data_dir() / "architecture.json"),
                                                        "Architecture (*.json)")
        if path:
            self.save_file(path)
