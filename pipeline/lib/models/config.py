"""What every model's typed config shares (pydantic): unknown keys refused, a docstring per field, frozen.

A model declares its hyperparameters once, as a ``Config`` class beside the model class; the params schema
(``train.<model>``), the defaults in ``params.yaml`` (checked by a test) and the docs are derived from it.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PositiveFloat, PositiveInt, ValidationError, model_validator

from ..datasets import DATASETS

Presets = dict[Literal[tuple(DATASETS)], dict[str, Any]]


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

    presets: Presets = Field(default_factory=dict)
    """Per dataset (a ``data.dataset`` name), values that replace this section's own when the data is that dataset,
    e.g. ``{ml-latest-small: {orientation: user}}``: defaults chosen on val for a shape that the section's own do
    not serve (docs/models.md). A preset wins over the section's value: change the preset to change it."""

    @model_validator(mode="after")
    def _valid_presets(self):
        for dataset, values in self.presets.items():
            if "presets" in values:
                raise ValueError(f"presets.{dataset}: a preset cannot hold presets")
            try:
                type(self).model_validate({**self.model_dump(), **values, "presets": {}})
            except ValidationError as exc:
                first = exc.errors()[0]
                key = ".".join(map(str, ("presets", dataset, *first["loc"])))
                if first["type"] == "extra_forbidden":
                    allowed = ", ".join(f for f in type(self).model_fields if f != "presets")
                    raise ValueError(f"unknown key {key}; allowed keys in a preset: {allowed}") from None
                raise ValueError(f"{key}: {first['msg']}, got {first['input']!r}") from None
        return self

    def for_dataset(self, dataset: str | None) -> "ModelConfig":
        """This config with ``dataset``'s preset applied (itself when there is none)."""
        preset = self.presets.get(dataset)
        return type(self).model_validate({**self.model_dump(), **preset}) if preset else self


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


class ImputeQueryConfig(TrainingConfig):
    """What the models whose input rows hold raw ratings share (autorec, hybrid_autorec, glocal_k)."""

    impute_query: bool = Field(default=True, strict=True)
    """True: a prediction for an unrated (user, movie) pair reads the input row with that pair's entry set to the
    bias baseline's rating instead of 0. Training always sees a rating's own entry in its input row; a 0 there
    reads as a very low rating, which a net that learned to pass a column through (item-based, a very heavy
    rater's column) returns as a very low prediction. Chosen on val for each model
    (docs/models.md#every-dataset-and-split)."""
