"""The Train tab's Data box: which pictures to learn from (every source of ``cnncore.datasets.SOURCES``
the app offers: generated digits, downloads, an IDX folder, CIFAR-10, a folder of your own pictures),
how many, how many held out; the folder choosers, the download's (or a folder's reading) progress,
what was skipped, and whether the network in use takes the source's pictures, with the preset that
does. Whether a run goes on is the session's; this box only offers the choice."""
from __future__ import annotations

from pathlib import Path

from cnncore.datasets.sources import ARCHIVES
from PySide6 import QtCore, QtWidgets

from ..run_control import DataChoice, fitting_source, shape_problem
from ..settings import data_dir
from ..widgets.font_fit import follow_font
from ..state.classes import shown_name, spelled_notes
from ..widgets.wrapping_label import WrappingLabel


def find_idx_pair(folder):
    """``(images, labels)`` paths of an IDX pair in ``folder`` (MNIST names; training files
    first), or None."""
    files = [p for p in sorted(Path(folder).iterdir()) if p.is_file()]
    images = [p for p in files if "idx3" in p.name or "images" in p.name]
    labels = [p for p in files if "idx1" in p.name or "labels" in p.name]
    if not images or not labels:
        return None

    def key(p):
        return (0 if "train" in p.name else 1, p.name)
    images.sort(key=key)
    for img in images:
        stem = img.name.replace("images", "labels").replace("idx3", "idx1")
        match = [lab for lab in labels if lab.name == stem]
        if match:
            return str(img), str(match[0])
    return str(images[0]), str(sorted(labels, key=key)[0])


def _source_tip(src) -> str:
    """A source's words for its menu entry, crediting a data set's authors."""
    credit = getattr(src.download, "credit", "")
    return src.help[:1].upper() + src.help[1:] + (f". {src.download.title}: {credit}." if credit else ".")


class DataBox(QtWidgets.QGroupBox):
    """Signals: ``sourceChanged(str)`` (another source is chosen), ``presetRequested(str)`` (use this
    preset: the network in use cannot take the source's pictures), ``archiveChosen(key, path)`` (keep
    this copy of the source's archive instead of downloading it)."""
    sourceChanged = QtCore.Signal(str)
    presetRequested = QtCore.Signal(str)
    archiveChosen = QtCore.Signal(str, str)       # source key, a copy of its archive on this computer

    def __init__(self, session, parent=None):
        super().__init__("Data", parent)
        self.session = session
        form = QtWidgets.QFormLayout(self)
        form.addRow("Source", self._build_source())
        self.count = QtWidgets.QSpinBox()
        self.count.setObjectName("trainCount")
        self.count.setAccessibleName("Pictures to train on")
        self.count.setRange(100, 60000)
        self.count.setSingleStep(1000)
        self.count.setToolTip("How many digits to generate (or pictures to use at most, the first of the data set)")
        self.holdout = QtWidgets.QDoubleSpinBox()
        self.holdout.setObjectName("trainHoldout")
        self.holdout.setRange(0.0, 0.5)
        self.holdout.setSingleStep(0.05)
        self.holdout.setToolTip("Share of the pictures kept aside to measure accuracy on unseen data")
        self.count_all = QtWidgets.QLabel("all of them")       # for a source used whole, instead of the box
        self.count_all.setObjectName("trainCountAll")
        self.count_all.setToolTip("Every picture of this source is used (files you name are used whole)")
        self.count_all.hide()
        self._folder_count = None         # pictures in the chosen folder
        self._folder_read = None          # of which the last run could read (None: not read yet)
        pictures = QtWidgets.QHBoxLayout()
        pictures.setContentsMargins(0, 0, 0, 0)
        pictures.addWidget(self.count)
        pictures.addWidget(self.count_all)
        form.addRow("Pictures", pictures)
        form.addRow("Held out", self.holdout)
        self._build_buttons(form)
        self._build_fit(form)
        self.notes = self._label("trainDataNotes", "What the last folder read left out")
        self.notes.setStyleSheet("color: #9a6700;")
        form.addRow(self.notes)
        self.download_bar = QtWidgets.QProgressBar()
        self.download_bar.setObjectName("downloadProgress")
        self.download_bar.setToolTip("Download progress, or the pictures of a folder read so far")
        self.download_bar.setTextVisible(True)
        self.download_bar.hide()
        self._reading = False            # the bar counts a folder's pictures being read
        form.addRow(self.download_bar)
        self.source.currentIndexChanged.connect(lambda *_: self.show_notes(""))    # the last source's notes go
        self.source.currentIndexChanged.connect(lambda *_: self.sourceChanged.emit(self.key()))
        session.model_changed.connect(self._follow_network)
        self.show_fit()

    def _build_source(self) -> QtWidgets.QComboBox:
        from cnncore.datasets import available_sources
        self.source = QtWidgets.QComboBox()
        self.source.setObjectName("trainSource")
        for src in available_sources(for_app=True):
            self.source.addItem(src.label, src.key)
            self.source.setItemData(self.source.count() - 1, _source_tip(src), QtCore.Qt.ToolTipRole)
        self.source.setToolTip("Which pictures to learn from (choosing one sets its usual count, share held out "
                               "and, where they differ, its learning settings)")
        # the list as wide as its longest name: the box may cut a name short on a small screen, the list never
        def fit() -> None:
            fm = self.source.fontMetrics()
            longest = max((fm.horizontalAdvance(self.source.itemText(k)) for k in range(self.source.count())),
                          default=0)
            self.source.view().setMinimumWidth(longest + 2 * fm.height())
        follow_font(self.source, fit)
        return self.source

    def _build_buttons(self, form) -> None:
        self.idx_button = QtWidgets.QPushButton("Choose IDX folder…")
        self.idx_button.setObjectName("trainIdxButton")
        self.idx_button.setToolTip("Pick a folder holding an images file and a labels file in MNIST's IDX "
                                   "format (.gz or raw)")
        self.idx_button.clicked.connect(self.choose_idx)
        self.folder_button = QtWidgets.QPushButton("Choose a folder of pictures…")
        self.folder_button.setObjectName("trainFolderButton")
        self.folder_button.setToolTip("Pick a folder with one subfolder of pictures per class (2 to 10 classes; "
                                      "PNG, JPEG, BMP or WebP of any size): the subfolders' names are the classes")
        self.folder_button.clicked.connect(self.choose_folder)
        self.archive_button = QtWidgets.QPushButton("Use a copy on this computer…")
        self.archive_button.setObjectName("trainArchiveButton")
        self.archive_button.setToolTip("No network, or a copy from a USB stick? Pick the set's archive (for CIFAR-10, "
                                       "cifar-10-binary.tar.gz): it is checked and kept instead of a download")
        self.archive_button.clicked.connect(self.choose_archive)
        for b in (self.idx_button, self.folder_button, self.archive_button):
            b.hide()
            form.addRow(b)

    def _build_fit(self, form) -> None:
        """Whether the network takes the source's pictures, and the preset that does."""
        self.fit_note = self._label("trainFitNote", "Whether the network in use takes this source's pictures")
        self.preset_button = QtWidgets.QPushButton("")
        self.preset_button.setObjectName("trainUsePreset")
        self.preset_button.setToolTip("Replace the network by a new one of this preset (random weights), which "
                                      "takes this source's pictures")
        self.preset_button.clicked.connect(lambda: self.presetRequested.emit(self.preset_button.property("preset")))
        self.preset_button.hide()
        form.addRow(self.fit_note)
        form.addRow(self.preset_button)

    @staticmethod
    def _label(name: str, tip: str) -> QtWidgets.QLabel:
        label = WrappingLabel("")
        label.setObjectName(name)
        label.setAccessibleName(tip)
        label.hide()
        return label

    # ---------------------------------------------------------------- the choice
    @property
    def idx_files(self):
        """The IDX images and labels files picked (the session keeps them, :meth:`Session.choose_files`)."""
        return self.session.data_files.get("idx")

    @property
    def picture_folder(self):
        """The folder of pictures picked (a str; the session keeps it), or None."""
        return self.session.data_files.get("folder")

    def key(self) -> str:
        return self.source.currentData()

    def _follow_network(self) -> None:
        """A network that cannot take the chosen source's pictures brings a source it can (the one it
        learnt from, :func:`~cnnapp.run_control.fitting_source`)."""
        offered = [self.source.itemData(k) for k in range(self.source.count())]
        key = fitting_source(self.key(), self.session.network, offered, self.session.trained)
        if key != self.key():
            self.source.setCurrentIndex(self.source.findData(key))
        self.show_fit()

    def show_source(self, running: bool) -> None:
        """The buttons and boxes the chosen source uses (none while a run goes on)."""
        key = self.key()
        self.idx_button.setVisible(key == "idx")
        self.folder_button.setVisible(key == "folder")
        self.archive_button.setVisible(key in ARCHIVES and not running)
        from cnncore.defaults import uses_whole
        whole = uses_whole(key)
        self.count.setEnabled(not whole and not running)
        self.count.setVisible(not whole)            # not a greyed 6,000 beside a folder of 80 pictures
        self.count_all.setVisible(whole)
        self._say_whole(key)
        self.show_fit()

    def _say_whole(self, key: str) -> None:
        n, read = (self._folder_count, self._folder_read) if key == "folder" else (None, None)
        if n is None:
            self.count_all.setText("all of them")
        elif read is None or read == n:
            self.count_all.setText(f"all {n:,} in the folder")
        else:                             # (the notes say which could not be read)
            self.count_all.setText(f"all {read:,} readable in the folder, of {n:,}")

    def show_read(self, read: int, pictures: int) -> None:
        """How many of the folder's ``pictures`` (as the run found it) it could read; the others are in
        the notes."""
        self._folder_count, self._folder_read = pictures, read
        self._say_whole(self.key())

    def show_fit(self) -> None:
        """Say when the network cannot take the source's pictures (or, for a folder of pictures, reads
        them in grey), offering the preset that fits."""
        from cnncore.defaults import default_preset
        key, net = self.key(), self.session.network
        text, wrong = shape_problem(key, net, short=True), True
        if text is None and key == "folder" and net is not None and net.input_shape[0] == 1:
            text, wrong = f"The pictures will be read as this network takes them: {net.signature.brief()}", False
        self.fit_note.setText(text[:1].upper() + text[1:] + "." if text else "")
        self.fit_note.setStyleSheet("color: #b00020;" if wrong else "color: #9a6700;")
        self.fit_note.setVisible(bool(text))
        self.preset_button.setProperty("preset", default_preset(key))
        self.preset_button.setText(f"Use the {default_preset(key)} preset" + ("" if wrong else " (colour)"))
        self.preset_button.setVisible(bool(text) and not self.session.training)

    def choice(self, ask=True) -> DataChoice:
        """The data of the next run (an IDX folder or a folder of pictures not chosen yet is asked for first)."""
        key = self.key()
        if key == "idx" and not self.idx_files and ask:
            self.choose_idx()
        if key == "folder" and not self.picture_folder and ask:
            self.choose_folder()
        files = {"idx": self.idx_files, "folder": self.picture_folder}.get(key)
        return DataChoice(key, self.count.value(), self.holdout.value(), files)

    def choose_idx(self):
        folder = QtWidgets.QFileDialog.getExistingDirectory(
            self, "Folder with IDX files (images and labels, .gz or raw)", str(data_dir()))
        if folder:
            self.set_idx_folder(folder)

    def set_idx_folder(self, folder) -> bool:
        """Use the images and labels files of an IDX folder (training files preferred)."""
        found = find_idx_pair(folder)
        if found is None:
            self.session.say(f"No pair of IDX images and labels files in {folder}", 0)
            return False
        self.session.choose_files("idx", found)
        self.idx_button.setText(f"{Path(folder).name}/{Path(found[0]).name}")
        self.idx_button.setToolTip(f"Images: {found[0]}\nLabels: {found[1]}\nClick to choose another folder")
        self.session.say(f"Will train on {Path(found[0]).name} with {Path(found[1]).name}")
        return True

    def choose_archive(self) -> None:
        key = self.key()
        archive = ARCHIVES[key]
        path, _ = QtWidgets.QFileDialog.getOpenFileName(
            self, f"{archive.title}'s archive ({archive.filename})", str(Path.home()),
            f"{archive.title} archive ({archive.filename});;All files (*)")
        if path:
            self.archiveChosen.emit(key, path)

    def choose_folder(self):
        folder = QtWidgets.QFileDialog.getExistingDirectory(
            self, "A folder with one subfolder of pictures per class", str(data_dir()))
        if folder:
            self.set_picture_folder(folder)

    def set_picture_folder(self, folder, restored: bool = False) -> bool:
        """Use a folder of pictures (listed now, read when the run starts), said in the status bar; one
        that cannot give classes a network can learn is said in one line and the folder chosen before
        stays. ``restored``: the folder of the last session, said only when it cannot be used now."""
        from cnncore.datasets.folder import FolderError, check_trainable, scan_folder
        try:
            scan = scan_folder(folder)
            check_trainable(scan)
        except FolderError as e:
            gone = f"The folder of pictures chosen last time cannot be used now: {e}"
            self.session.say(gone if restored else str(e), 0)
            if restored:                          # (a note that stays: the status bar's goes)
                self.show_notes(f"{gone}. Choose a folder, or another source.")
            return False
        self.session.choose_files("folder", str(folder))
        self.show_notes("")                      # (the notes of the folder read before)
        n = len(scan.files)
        self._folder_count, self._folder_read = n, None
        self._say_whole("folder")
        self.folder_button.setText(f"{Path(folder).name}/: {len(scan.classes)} classes, {n:,} pictures")
        listed = ", ".join(shown_name(c) for c in scan.classes)
        note = spelled_notes(scan.classes)
        self.folder_button.setToolTip(f"{folder}\nClasses (subfolders, in this order): {listed}"
                                      + (f"\n{note}" if note else "")
                                      + (("\nLeft out: 1 file that is not a picture" if len(scan.ignored) == 1
                                          else f"\nLeft out: {len(scan.ignored):,} files that are not pictures")
                                         if scan.ignored else "") + "\nClick to choose another folder")
        if not restored:
            self.session.say(f"Will train on the {n:,} pictures of {Path(folder).name}: {listed}")
        return True

    # ---------------------------------------------------------------- progress
    def show_notes(self, text: str) -> None:
        """A line on what the data left out (a folder's skipped pictures, its other files); "" clears."""
        shown = [t for t in (self.notes.text(), text) if t] if text else []
        self.notes.setText("\n".join(shown))
        self.notes.setVisible(bool(shown))

    def show_download(self, done, total, name) -> None:
        """A download's progress (``done`` None: it is starting), or a folder's pictures read."""
        self.download_bar.show()
        self._reading = name == "pictures"
        if done is None:
            self.download_bar.setRange(0, 0)
            self.download_bar.setFormat("connecting…")
        elif name == "pictures" and total:
            self.download_bar.setRange(0, 1000)
            self.download_bar.setValue(int(1000 * done / total))
            self.download_bar.setFormat(f"reading pictures: {done:,} of {total:,}")
        elif total:
            self.download_bar.setRange(0, 1000)
            self.download_bar.setValue(int(1000 * done / total))
            self.download_bar.setFormat(f"{name}: {done / 1e6:.1f} of {total / 1e6:.1f} MB")
        else:
            self.download_bar.setFormat(f"{name}: {done / 1e6:.1f} MB")

    def end_reading(self) -> None:
        """The run's pictures are read (it starts): a bar that counted a folder's pictures goes (a
        download's stays, saying the set is ready)."""
        if self._reading:
            self._reading = False
            self.download_bar.hide()

    def show_downloaded(self, key: str) -> None:
        from cnncore.datasets.sources import source
        self.download_bar.setRange(0, 1)
        self.download_bar.setValue(1)
        self.download_bar.setFormat(f"{source(key).dataset} is ready")

    def show_download_failed(self, message: str) -> str:
        """The words, in full (the status bar may cut them), with the ways to train without a network."""
        self.download_bar.hide()
        if self.key() == "cifar10":
            other = ("Without a connection: <b>Use a copy on this computer…</b> takes CIFAR-10's archive "
                     "(cifar-10-binary.tar.gz) from a file; or choose <b>A folder of pictures…</b> as the source and "
                     "pick a folder with one subfolder of pictures per class (CIFAR-10's pictures saved as files, or "
                     "your own), or train on <b>Generated digits</b>.")
        else:
            from cnncore.datasets.sources import source
            name = source(self.key()).dataset or "MNIST"          # (the set chosen: its own files)
            other = ("Without a connection, choose <b>IDX folder…</b> as the source and pick a folder that holds "
                     f"{name}'s files (e.g. copied from another computer), or train on <b>Generated digits</b>.")
        return f"<span style='color:#b00020'>{message.rstrip('.')}.</span><br>{other}"
