"""Text 001's 4×4 pooling, forward and backward, with any pooling type that declares it (text 002's overlap too)."""
from __future__ import annotations

import dataclasses
import re

import numpy as np

from ..plurals import agrees, plural
from ..shapes import conv_output_size, output_size_words
from .base import WorkedExample, example_layer_types


def _page_cells(text: str) -> str:
    """``x(0,1,2)`` -> ``x23`` and ``(1,2)`` -> ``x23`` in a note: the pooling page's 1-based names."""
    text = re.sub(r"\b(dx|dy|x|y)\(0,(\d+),(\d+)\)", lambda m: f"{m[1]}{int(m[2]) + 1}{int(m[3]) + 1}", text)
    return re.sub(r"\((\d+),(\d+)\)", lambda m: f"x{int(m[1]) + 1}{int(m[2]) + 1}", text)


def _page_names(bd):
    """Name every term, note and the target as the pooling page's lines do: ``x13``, ``y12``, ``dy21``, 1-based."""
    if bd is None:
        return None
    bd.terms = [dataclasses.replace(t, label=_page_cells(t.label), note=_page_cells(t.note)) for t in bd.terms]
    bd.notes = [_page_cells(n) for n in bd.notes]
    t = bd.target
    if t is not None and t.array in ("x", "y", "dy", "dx"):
        bd.title = bd.title.split(":")[0] + f": {t.array}{t.index[-2] + 1}{t.index[-1] + 1}"
    return bd


def _lowered(title: str) -> str:
    """``"Max pooling"`` -> ``"max pooling"``; ``"L2-norm pooling"`` stays as it is."""
    return title[:1].lower() + title[1:] if title[1:2].islower() else title


class PoolingExample(WorkedExample):
    """Pooling a 4×4 grid with any layer type that declares this example (``Teaching.examples``,
    max pooling first), 2×2 windows (or 3×3), stride 2 (or 1: overlapping).

    The example runs the layer type itself on ``x (4, 4)`` and ``dy``, and its breakdowns are
    the type's own (:meth:`cnncore.layers.Layer.explain`), named as the book chapter's page
    names the cells: ``x11 … x44``.
    """
    key = "pooling"
    title = "Pooling a 4×4 grid (after the book chapter's example)"
    credit = ("After the max-pooling example of the book chapter “Back propagation in CNN”; mean pooling and "
              "overlapping windows follow the CMU lecture slides “Deep Neural Networks: Convolutional Networks "
              "III”, and L2-norm pooling is the one the blog post “Backpropagation In Convolutional Neural "
              "Networks” names.")
    editable = ("x", "dy")
    shown = ("y", "dx")
    labels = {"x": "input x (4×4)", "dy": "incoming gradient dy = ∂L/∂y",
              "y": "pooled output y", "dx": "gradient routed back ∂L/∂x"}

    def __init__(self):
        self.types = {cls.type: cls for cls in example_layer_types(self.key)}
        if not self.types:
            raise ValueError("no layer type declares the pooling example")
        self.choices = {"type": tuple(self.types), "stride": (2, 1), "size": (2, 3)}
        kinds = ", ".join(_lowered(cls.title) for cls in self.types.values())
        self.summary = (f"Pooling keeps one number per window ({kinds}) and has nothing to learn. Going "
                        "backward, each window's gradient goes back to the inputs that made its number, by the "
                        "type's own rule: all of it to the winner of a max, an even share of a mean. With stride "
                        "1 the windows overlap and an input can collect gradient from several windows (+=).")
        self._arrays: dict = {}
        super().__init__()

    def heading(self):
        s = self.settings
        kind = _lowered(self.types[s["type"]].title)
        return f"4×4 {kind}, {s['size']}×{s['size']} windows, stride {s['stride']}"

    def setting_text(self, name, value) -> str:
        return self.types[value].title if name == "type" else super().setting_text(name, value)

    def default_settings(self):
        return {"type": next(iter(self.types)), "size": 2, "stride": 2}

    def default_params(self):
        x = [[1, 3, 2, 1],
             [4, 2, 0, 5],
             [3, 1, 6, 2],
             [0, 2, 4, 3]]
        return {"x": x, "dy": self._default_dy(self.out_hw(self.default_settings()))}

    @staticmethod
    def _default_dy(hw):
        return (np.arange(1, hw[0] * hw[1] + 1, dtype=np.float64) / 10).reshape(hw)

    def out_hw(self, settings=None):
        s = settings or self.settings
        return conv_output_size((4, 4), s["size"], s["stride"], 0)

    def reshape_params(self):
        hw = self.out_hw()
        if self.params["dy"].shape != hw:
            self.params["dy"] = self._default_dy(hw)

    def _spec(self) -> dict:
        s = self.settings
        return {"type": s["type"], "size": [s["size"]] * 2, "stride": [s["stride"]] * 2}

    def recompute(self):
        """Run the chosen layer type forward on ``x`` and backward on ``dy`` (float64, one map)."""
        cls, spec = self.types[self.settings["type"]], self._spec()
        layer = cls(0, spec, (1, 4, 4), cls.output_shape(spec, (1, 4, 4)), np.float64)
        layer.forward(np.ascontiguousarray(self.params["x"][None, None]), keep=True)
        layer.backward(np.ascontiguousarray(self.params["dy"][None, None]))
        self._arrays = {p: np.array(getattr(layer, p)[0], dtype=getattr(layer, p).dtype)
                        for p in ("x", "y", "dy", "dx", *cls.records)}
        self.results = {"y": self._arrays["y"][0], "dx": self._arrays["dx"][0]}

    def chosen_cells(self):
        """The cells the type records as positions (a max-pool's winners), flat ``row·4 + column``."""
        cells = set()
        for part in self.types[self.settings["type"]].positions:
            cells |= {divmod(int(k), 4) for k in self._arrays[part].ravel()}
        return {"x": cells} if cells else {}

    def explain(self, name, index):
        if name not in ("y", "dx"):
            return None
        cls = self.types[self.settings["type"]]
        keys = {p: p for p in self._arrays}
        bd = cls.explain(self._spec(), name, (0, *index), self._arrays.__getitem__, keys)
        return _page_names(self._fit_refs(bd))

    @staticmethod
    def _symbols(bd) -> str:
        names = [t.label for t in bd.terms]
        if bd.combine == "max":
            return f"max({', '.join(names)})"
        if bd.combine == "norm":
            return f"sqrt({' + '.join(names)})"
        return " + ".join(names)

    def lines(self):
        s, r = self.settings, self.results
        K, S = s["size"], s["stride"]
        Ho, Wo = r["y"].shape
        out = [f"Output size per side: {output_size_words(4, K, S)}."]
        for oy in range(Ho):
            for ox in range(Wo):
                bd = self.explain("y", (oy, ox))
                won = [t.label for t in bd.terms if t.chosen]
                out.append(f"y{oy + 1}{ox + 1} = {self._symbols(bd)} = {bd.written_out(limit=9)}"
                           + (f"  (winner {won[0]})" if won and bd.combine == "max" else ""))
        out.append("Backward, each input collects what the windows holding it send back (+=):")
        zero = 0
        for iy in range(4):
            for ix in range(4):
                if r["dx"][iy, ix] == 0:
                    zero += 1
                    continue
                bd = self.explain("dx", (iy, ix))
                out.append(f"∂L/∂x{iy + 1}{ix + 1} = {self._symbols(bd)} = {bd.written_out(limit=9)}")
        if zero:
            out.append(f"The other {plural(zero, 'input')} {agrees(zero, 'gets', 'get')} 0 from the windows that "
                       f"hold {agrees(zero, 'it', 'them')} (or {agrees(zero, 'lies', 'lie')} in none).")
        return out


# ------------------------------------------------------------------------------------- text 002
