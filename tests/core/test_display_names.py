"""Progress bars and status lines say what they run, by display name (SCHEDULE_LABELS), never by an
internal code ("none", "pre", "inter") or a raw None (issue 25, deliverable 3)."""
import re

import numpy as np

import flosslab as fl
from flosslab import engine, reference
from flosslab.core.trainconfig import (
    SCHEDULE_LABELS,
    TrainConfig,
    describe_flossing,
    describe_members,
    flossed_k_label,
)
from flosslab.paper.stats import bootstrap_horizon, describe_horizon

CODES = re.compile(r"\b(none|pre|inter|None)\b")


def _descs(run):
    seen = []
    run(lambda done, total, desc, postfix: seen.append(desc))
    return list(dict.fromkeys(seen))


def test_ensemble_training_bar_names_every_setting_and_each_flossing_episode():
    configs = [TrainConfig(task="copy", delay=d, flossing=s, n_units=6, n_epochs=2, batch_size=2,
                           floss_steps=2, n_exponents=k, eval_every=2, eval_batch=4, seed=0)
               for d, s, k in ((3, "none", None), (4, "pre", 2), (4, "pre", 3))]
    descs = _descs(lambda report: engine.train_members(configs, progress=report))
    training = [d for d in descs if not d.startswith("epoch")]
    assert training == ["copy d=3/4, no flossing / preflossing (3 networks)"]
    assert descs.count("epoch 0: flossing k = 2/3, 2 steps (2 networks)") == 1
    assert not any(CODES.search(d) for d in descs), descs
    one = describe_members(configs[1:2])
    assert one == f"copy d=4, {SCHEDULE_LABELS['pre']}"


def test_flossing_bars_say_what_they_floss_and_take_a_description():
    params = fl.init_rnn(6, 1.0, seed=0)
    assert _descs(lambda r: engine.floss(engine.to_torch(params), 2, 3, progress=r)) == \
        ["flossing k = 3, 2 steps"] == [describe_flossing(3, 2)]
    assert _descs(lambda r: reference.floss(params, 2, 3, progress=r)) == \
        ["flossing k = 3, 2 steps"]
    assert _descs(lambda r: engine.floss(engine.to_torch(params), 2, 3, progress=r,
                                         desc="mine")) == ["mine"]
    stacked = engine.init_ensemble(6, [1.0, 1.5], seeds=[0, 1])
    assert _descs(lambda r: engine.floss(stacked, 2, [1, 4], progress=r)) == \
        ["flossing k = 1/4, 2 steps (2 networks)"]


def test_row_names_and_horizons_in_words():
    assert flossed_k_label("none") == SCHEDULE_LABELS["none"] and flossed_k_label(48) == "k = 48"
    never = bootstrap_horizon({32: [0.5] * 5, 40: [0.5] * 5})
    assert describe_horizon(never, 32) == "below 32 (no swept delay reaches 0.9)"
    edge = bootstrap_horizon({32: [1.0, 1.0, 1.0, 0.5, 0.5], 40: [0.5] * 5})
    text = describe_horizon(edge, 32)
    assert "None" not in text and text.startswith("32 [")


def test_04_loop_and_07_cell_legends_name_whose_function_ran():
    from flosslab.course import checking, lesson04_flossing as lesson04, lesson07_torch as lesson07

    def gradient(params, inputs, k, target):
        from autograd import value_and_grad
        dyn = {name: params[name] for name in ("W", "U", "b")}
        return value_and_grad(lambda d: fl.flossing_loss({**params, **d}, inputs, k, target))(dyn)

    def adam(x, g, m, v, t, lr):
        m, v = 0.9 * m + 0.1 * g, 0.999 * v + 0.001 * g * g
        return x - lr * (m / (1 - 0.9 ** t)) / (np.sqrt(v / (1 - 0.999 ** t)) + 1e-8), m, v

    ref = lesson04.floss_with(gradient, adam, n_units=4, n_steps=2)
    assert ref.who == "the reference"
    adam.picked_from_student = True           # what checking.pick marks on a student's answer
    mine = lesson04.floss_with(gradient, adam, n_units=4, n_steps=2)
    assert mine.who == "your" == checking.whose(adam)
    labels = [t.get_text() for t in lesson04.flossing_loop_figure(ref, ref.losses, 2, 0.0)[0]
              .axes[0].get_legend().get_texts()]
    assert labels == ["torch engine's loop", "the reference loop"]
    fig, art = lesson07.cell_spectrum_figure(np.zeros(3), np.zeros(3), "GRU", "the reference")
    assert art["mine"].get_label() == "the reference cell_jacobian"


def test_06_episode_bar_says_what_it_flosses():
    from flosslab.course import lesson06_why_it_works as lesson06
    descs = _descs(lambda r: lesson06.flossing_checkpoints_seeds(
        ks=(2, 3), n_units=6, steps_per_checkpoint=3, n_checkpoints=2, window=20, seeds=(0, 1),
        progress=r))
    assert descs == ["2 episodes of flossing k = 2/3, 3 steps (4 networks), measured after each"]
