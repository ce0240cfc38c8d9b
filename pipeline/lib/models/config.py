"""What every model's typed config shares (pydantic): unknown keys refused, a docstring per field, frozen.

A model declares its hyperparameters once, as a ``Config`` class beside the model class; the params schema
(``train.<model>``), the defaults in ``params.yaml`` (checked by a test) and the docs are derived from it.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, PositiveFloat, PositiveInt


class ModelConfig(BaseModel):
    """Hyperparameters of one model."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True, allow_inf_nan=False,
                              validate_default=True)

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs):
        # A subclass that only changes a default (``epochs: PositiveInt = 200``) keeps the field's documentation.
        super().__pydantic_init_subclass__(**kwargs)
        inherited = False
        for name, field in cls.model_fields.items():
            if field.description is None:
                for base in cls.__mro__[1:]:
                    described = getattr(base, "model_fields", {}).get(name)
                    if described is not None and described.description:
                        field.description, inherited = described.description, True
                        break
        if inherited:
            cls.model_rebuild(force=True)


class TrainingConfig(ModelConfig):
    """Hyperparameters of a model trained by Adam with early stopping on val RMSE (best weights restored)."""

    epochs: PositiveInt = 100
    """Most passes over the train ratings; early stopping usually ends training sooner."""
    batch_size: PositiveInt = 64
    """Examples per gradient step (rating vectors for the autoencoders, (user, movie) pairs otherwise)."""
    learning_rate: PositiveFloat = 0.001
    """Adam's step size."""
    patience: PositiveInt = 10
    """Epochs without a better val RMSE before training stops."""
