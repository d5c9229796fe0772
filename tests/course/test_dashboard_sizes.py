"""Every dashboard of lessons 01-08 fits a 1280 x 800 screen with its controls (issue 25,
deliverable 3): its declared image height and its figure's own pixel height (figsize x dpi) stay
within SCREEN_HEIGHT_PX minus its controls and status line (Dashboard.screen_px)."""
import pytest

from flosslab.course import (
    lesson01_gradients as l01,
    lesson02_lyapunov as l02,
    lesson03_qr_gradient as l03,
    lesson04_flossing as l04,
    lesson05_delayed_tasks as l05,
    lesson06_why_it_works as l06,
    lesson07_torch as l07,
    lesson08_paper_results as l08,
    training_runs,
)
from flosslab.course.dashboard_machinery import SCREEN_HEIGHT_PX

torch = pytest.importorskip("torch")


def _jacobian(step, z, x):
    return torch.func.jacrev(step)(z, x)


DASHBOARDS = {
    "01 gradient norms": lambda: l01.gradient_norm_dashboard(),
    "01 growth rate": lambda: l01.growth_rate_dashboard(l01.reference_backprop_norms,
                                                        l01.reference_growth_rate, seq_len=100),
    "01 driven": lambda: l01.driven_dashboard(),
    "02 spectrum": lambda: l02.spectrum_dashboard(),
    "02 spectrum vs gain": lambda: l02.spectrum_vs_gain_dashboard(),
    "02 QR interval": lambda: l02.qr_interval_dashboard(),
    "03 QR gradient": lambda: l03.qr_gradient_dashboard(vjp=l03.reference_qr_vjp),
    "03 conditioning": lambda: l03.conditioning_dashboard(),
    "03 linear network": lambda: l03.linear_network_dashboard(),
    "04 flossing": lambda: l04.flossing_dashboard(n_steps=20),
    "04 learning rate": lambda: l04.learning_rate_dashboard(),
    "04 condition collapse": lambda: l04.condition_collapse_dashboard(),
    "05 task": lambda: l05.task_dashboard(),
    "05 delay gradient": lambda: l05.delay_gradient_dashboard(delay=20, n_exponents=24),
    "05 training": lambda: l05.training_dashboard(task="copy", delay=20, schedule="pre"),
    "06 condition": lambda: l06.condition_dashboard(gain=1.0, n_exponents=16),
    "06 why": lambda: l06.why_dashboard(n_exponents=3, checkpoints=l06.flossing_checkpoints_seeds(
        ks=(2, 3), n_units=6, steps_per_checkpoint=3, n_checkpoints=2, window=20, seeds=(0, 1))),
    "06 schedules": lambda: l06.schedules_dashboard(
        training_runs.train_seeds("copy", 3, ("none", "pre", "inter", "penalty"), 3)),
    "07 agreement": lambda: l07.agreement_dashboard(),
    "07 ensemble": lambda: l07.ensemble_dashboard(),
    "07 cell": lambda: l07.cell_dashboard(_jacobian),
    "07 cost": lambda: l07.cost_dashboard(),
    "08 paper delay": lambda: l08.paper_delay_dashboard(task="xor", highlight=28),
    "08 horizon": lambda: l08.horizon_dashboard(),
    "08 live delay": lambda: l08.live_delay_dashboard(task="copy"),
    "08 live parity": lambda: l08.live_parity_dashboard(),
    "08 live condition": lambda: l08.live_condition_dashboard(),
}


def test_every_dashboard_function_is_listed():
    import inspect
    made = {f.__code__ for f in DASHBOARDS.values()}
    assert made
    for module in (l01, l02, l03, l04, l05, l06, l07, l08):
        names = [n for n, f in inspect.getmembers(module, inspect.isfunction)
                 if n.endswith("_dashboard") and f.__module__ == module.__name__]
        for name in names:
            assert any(name in inspect.getsource(f) for f in DASHBOARDS.values()), name


@pytest.mark.parametrize("name", list(DASHBOARDS))
def test_dashboard_fits_a_1280_x_800_screen(name, tiny_training):
    px = DASHBOARDS[name]().screen_px()
    room = SCREEN_HEIGHT_PX - px["controls"]
    assert px["image"] <= room, (name, px)
    assert px["figure"] <= room, (name, px)
