"""Datasets for cnncore: real MNIST files, generated digits, the user's drawings, CIFAR-10's colour
pictures and folders of the user's own pictures.

The digit sources give uint8 ``(N, 28, 28)`` in MNIST's convention (0 = background, 255 = ink,
the digit fitted into 20x20 and centred by its centre of mass in 28x28); :func:`to_input` turns
them into the network's float32 ``(N, 1, 28, 28)`` input in [0, 1]. CIFAR-10 gives uint8
``(N, 3, 32, 32)`` and a folder of pictures uint8 ``(N, C, H, W)`` at the model's input shape.
Labels are uint8 ``(N,)``, indices into the source's class names.

* :func:`read_idx`, :func:`load_idx_pair`, :class:`IDXError`: MNIST's IDX files.
* :func:`fetch_mnist`, :func:`load_mnist`, :data:`MNIST_MIRRORS`: the full MNIST, downloaded on request;
  :data:`DOWNLOADS`, :func:`fetch_download`, :func:`load_download`: the same for Fashion-MNIST and
  Kuzushiji-MNIST.
* :data:`CIFAR10`, :func:`fetch_cifar10`, :func:`load_cifar10`: CIFAR-10's binary archive, downloaded
  once (resumable) and read without extracting it.
* :func:`read_picture`, :func:`load_folder`: a picture brought to a model's input; a folder of
  pictures, one subfolder per class.
* :func:`generated_digits`: handwriting-like digits made offline, deterministic by seed.
* :class:`DrawingsDataset`: the user's own labelled drawings, saved atomically.
* :func:`preprocess_drawing`: a canvas drawing brought to MNIST's convention.
* :func:`user_data_dir`, :func:`shared_mnist_dir`, :func:`load_shared_mnist`: where data lives.
* :data:`SOURCES`, :func:`available_sources`, :func:`load_source`, :func:`load_labelled`,
  :func:`source_files`, :func:`held_out_split`: the data sources the app and the command line offer, the
  files each reads, and the one held-out rule.
"""
from __future__ import annotations

from .cifar import CIFAR10, CifarError, fetch_cifar10, install_cifar10, load_cifar10, read_cifar10
from .drawings import DrawingsDataset, DrawingsFileError
from .generated import generated_digits
from .idx import IDXError, load_idx_pair, read_idx
from .mnist import (DOWNLOADS, MNIST_FILES, MNIST_MD5, MNIST_MIRRORS, Download, FetchError, fetch_download,
                    fetch_mnist, load_download, load_mnist)
from .paths import SHARED_MNIST_IMAGES, SHARED_MNIST_LABELS, shared_mnist_dir, user_data_dir
from .folder import FolderError, load_folder
from .pictures import PictureError, picture_input, read_picture
from .preprocess import preprocess_drawing, to_input
from .sources import (DRAWINGS_FILE, SOURCES, DataSource, Labelled, SourceError, available_sources, held_out_split,
                      load_labelled, load_source, source_files)

__all__ = [
    "IDXError", "read_idx", "load_idx_pair",
    "MNIST_MIRRORS", "MNIST_MD5", "MNIST_FILES", "FetchError", "fetch_mnist", "load_mnist",
    "DOWNLOADS", "Download", "fetch_download", "load_download",
    "CIFAR10", "CifarError", "fetch_cifar10", "install_cifar10", "load_cifar10", "read_cifar10",
    "PictureError", "FolderError", "read_picture", "picture_input", "load_folder",
    "generated_digits",
    "DrawingsDataset", "DrawingsFileError",
    "preprocess_drawing", "to_input",
    "user_data_dir", "shared_mnist_dir", "load_shared_mnist",
    "SOURCES", "DataSource", "SourceError", "DRAWINGS_FILE", "available_sources", "load_source",
    "load_labelled", "Labelled", "source_files",
    "held_out_split",
]


def load_shared_mnist():
    """The 8,000 shared real digits ``(X uint8 (8000, 28, 28), y uint8 (8000,))``, or
    None when ``../shared/data/mnist`` is not beside the repository."""
    folder = shared_mnist_dir()
    if folder is None:
        return None
    return load_idx_pair(folder / SHARED_MNIST_IMAGES, folder / SHARED_MNIST_LABELS)
