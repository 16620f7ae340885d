"""The effects package re-exports its public names lazily (responders and pool live in other modules)."""

import pytest


def test_public_names() -> None:
    import massage_outcomes as mo
    from massage_outcomes import effects

    assert mo.effect_size is effects.effect_size
    assert mo.effect_sizes is effects.effect_sizes
    assert mo.EffectSize is effects.EffectSize
    from massage_outcomes.effects.api import ancova

    assert callable(ancova)
    with pytest.raises(AttributeError):
        effects.nope  # noqa: B018


@pytest.mark.parametrize(("name", "module"), [("responders", "clinical"), ("pool", "pooling")])
def test_reexports_when_present(name: str, module: str) -> None:
    mod = pytest.importorskip(f"massage_outcomes.effects.{module}")
    from massage_outcomes import effects

    assert getattr(effects, name) is getattr(mod, name)
