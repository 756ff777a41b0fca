"""The FoV background model: a power-law norm and tilt applied to a dataset's background template."""

import numpy as np
import traitlets

__all__ = ["FoVBackgroundModel"]


class FoVBackgroundModel(traitlets.HasTraits):
    """Spectral correction of a background template (spec §6, ``PowerLawNormSpectralModel``).

    ``npred_background = background * norm * (E / reference) ** (-tilt)`` with ``E``
    the reco-energy log bin centre.

    Parameters
    ----------
    dataset_name : str
        Name of the dataset the model belongs to; the model is named ``<dataset_name>-bkg``.
    norm, tilt : float
        Norm (free by default) and tilt (frozen by default).
    reference_tev : float
        Reference energy in TeV.
    """

    norm = traitlets.Float(1.0)
    tilt = traitlets.Float(0.0)
    reference_tev = traitlets.Float(1.0)
    norm_error = traitlets.Float(0.0)
    tilt_error = traitlets.Float(0.0)
    norm_frozen = traitlets.Bool(False)
    tilt_frozen = traitlets.Bool(True)

    def __init__(self, dataset_name, **kwargs):
        super().__init__(**kwargs)
        self.dataset_name = dataset_name

    @property
    def name(self):
        """Model name, ``<dataset>-bkg``."""
        return f"{self.dataset_name}-bkg"

    @property
    def datasets_names(self):
        """Names of the datasets the model applies to."""
        return [self.dataset_name]

    @property
    def n_parameters(self):
        """Number of parameters (norm, tilt, reference)."""
        return 3

    @property
    def n_free_parameters(self):
        """Number of free parameters."""
        return int(not self.norm_frozen) + int(not self.tilt_frozen)

    def factor(self, energy_center_tev):
        """Multiplicative correction at reco energies (TeV)."""
        energy = np.asarray(energy_center_tev, dtype=float)
        return self.norm * (energy / self.reference_tev) ** (-self.tilt)

    def copy(self, dataset_name=None):
        """Copy, optionally for another dataset."""
        return FoVBackgroundModel(
            dataset_name or self.dataset_name,
            norm=self.norm,
            tilt=self.tilt,
            reference_tev=self.reference_tev,
            norm_error=self.norm_error,
            tilt_error=self.tilt_error,
            norm_frozen=self.norm_frozen,
            tilt_frozen=self.tilt_frozen,
        )

    def __str__(self):
        def row(name, value, error, unit, frozen):
            label = f"      {name:<22s}{'(frozen)' if frozen else '        '}:"
            if frozen:
                return f"{label}{value:11.3f}       {unit:<12s}"
            return f"{label}{value:11.3f}   +/- {error:7.2f}             "

        lines = [
            "  Component 0: FoVBackgroundModel",
            "  ",
            f"    Name                      : {self.name}",
            f"    Datasets names            : {self.datasets_names}",
            "    Spectral model type       : PowerLawNormSpectralModel",
            "    Parameters:",
            row("tilt", self.tilt, self.tilt_error, "", self.tilt_frozen),
            row("norm", self.norm, self.norm_error, "", self.norm_frozen),
            row("reference", self.reference_tev, 0.0, "TeV", True),
            "  ",
            "  ",
        ]
        return "\n".join(lines)

    def __repr__(self):
        return f"FoVBackgroundModel(name={self.name!r}, norm={self.norm:.5g}, tilt={self.tilt:.5g})"
