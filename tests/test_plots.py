"""Saving the training curves must not touch pyplot's state or choose a backend: a notebook
that calls the trainer keeps showing its own figures inline (tutorial 03 lost two of three)."""
import pytest

matplotlib = pytest.importorskip("matplotlib")


def test_training_curves_leave_the_backend_and_open_figures_alone(tmp_path, monkeypatch):
    import matplotlib.pyplot as plt

    from tiny_mmmlp.plots import plot_training_curves

    calls = []
    monkeypatch.setattr(matplotlib, "use", lambda *a, **k: calls.append(a))
    backend, figures = matplotlib.get_backend(), plt.get_fignums()
    history = [{"epoch": e, "loss": 3.0 / e, "valid": {"HR@10": 0.1 * e, "NDCG@10": 0.05 * e}} for e in (1, 2)]
    assert plot_training_curves(history, tmp_path / "curves.png", "a run")
    assert (tmp_path / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert calls == [] and matplotlib.get_backend() == backend and plt.get_fignums() == figures


def test_a_returned_figure_is_drawn_by_a_notebook_that_never_loaded_pyplot(monkeypatch):
    """rec.plot_curves() returns a Figure made without pyplot; where IPython runs, a PNG
    formatter for it is registered, so the notebook shows it inline (no kernel needed here)."""
    import sys
    import types

    from tiny_mmmlp.plots import training_curves_figure
    from tiny_mmmlp.run_results import _shown_inline_by_ipython
    printers = {}
    png = types.SimpleNamespace(type_printers=printers, for_type=printers.__setitem__)
    shell = types.SimpleNamespace(display_formatter=types.SimpleNamespace(formatters={"image/png": png}))
    monkeypatch.setitem(sys.modules, "IPython", types.SimpleNamespace(get_ipython=lambda: shell,
                                                                      version_info=(9, 0)))
    fig = training_curves_figure([{"epoch": 1, "loss": 1.0, "valid": {"HR@10": 0.1, "NDCG@10": 0.05}}])
    _shown_inline_by_ipython(type(fig))
    assert printers[type(fig)](fig).startswith(b"\x89PNG")
