"""ON/OFF spectra as OGIP PHA, BKG, ARF and RMF files (reduction spec §12.3).

For ``X.fits`` four files are written: ``X.fits`` (PHA), ``X_bkg.fits``,
``X_arf.fits`` and ``X_rmf.fits``, all atomically.
"""

import io
from pathlib import Path

import numpy as np
from astropy import units as u
from astropy.io import fits

from ...axes import MapAxis
from ...data.gti import GTI
from ...errors import DataFormatError
from ...geom import RegionGeom
from ...geom._regions import regions_to_compound
from ...maps import Map
from ...maps.io import _read_region, _region_table_hdu
from .atomic import atomic_paths

__all__ = ["ogip_filenames", "write_ogip", "read_ogip"]


def ogip_filenames(filename):
    """The PHA, BKG, ARF and RMF paths for a PHA file name."""
    path = Path(filename)
    stem = path.name[: -len(path.suffix)] if path.suffix else path.name
    suffix = path.suffix or ".fits"
    return {
        "pha": path,
        "bkg": path.with_name(f"{stem}_bkg{suffix}"),
        "arf": path.with_name(f"{stem}_arf{suffix}"),
        "rmf": path.with_name(f"{stem}_rmf{suffix}"),
    }


def _ebounds_hdu(energy_axis):
    edges = energy_axis.edges.to_value("TeV")
    cols = [
        fits.Column("CHANNEL", "I", array=np.arange(energy_axis.nbin, dtype=np.int16)),
        fits.Column("E_MIN", "D", unit="TeV", array=edges[:-1]),
        fits.Column("E_MAX", "D", unit="TeV", array=edges[1:]),
    ]
    hdu = fits.BinTableHDU.from_columns(cols, name="EBOUNDS")
    hdu.header.update({"HDUCLASS": "OGIP", "HDUCLAS1": "RESPONSE", "HDUCLAS2": "EBOUNDS", "HDUVERS": "1.2.0",
                       "CHANTYPE": "PHA", "DETCHANS": energy_axis.nbin})
    return hdu


def _spectrum_hdu(counts, quality, backscal, kind, livetime, name, links):
    n = len(counts)
    cols = [
        fits.Column("CHANNEL", "I", array=np.arange(n, dtype=np.int16)),
        fits.Column("COUNTS", "J", array=np.trunc(counts).astype(np.int32)),
        fits.Column("QUALITY", "I", array=quality.astype(np.int16)),
        fits.Column("BACKSCAL", "D", array=np.asarray(backscal, dtype=float)),
    ]
    hdu = fits.BinTableHDU.from_columns(cols, name="SPECTRUM")
    hdu.header.update({
        "HDUCLASS": "OGIP", "HDUCLAS1": "SPECTRUM", "HDUCLAS2": kind, "HDUCLAS3": "COUNT",
        "HDUCLAS4": "TYPE:1", "HDUVERS": "1.2.1", "EXPOSURE": float(livetime), "OBS_ID": str(name),
        "POISSERR": True, "CHANTYPE": "PHA", "DETCHANS": n, "GROUPING": 0, "AREASCAL": 1.0,
        "TELESCOP": "unknown", "INSTRUME": "unknown", "FILTER": "None", "CORRFILE": "", "CORRSCAL": "",
    })
    for key, value in links.items():
        hdu.header[key] = value
    return hdu


def _rmf_hdulist(kernel, energy_axis_true, energy_axis):
    """RMF with one group per run of consecutive non-zero channels of each true-energy row."""
    f_chan, n_chan, matrix, n_grp = [], [], [], []
    for row in kernel:
        nonzero = np.flatnonzero(row > 0)
        if len(nonzero) == 0:
            f_chan.append(np.array([0], np.int16))
            n_chan.append(np.array([0], np.int16))
            matrix.append(np.array([], np.float64))
            n_grp.append(1)
            continue
        breaks = np.flatnonzero(np.diff(nonzero) > 1) + 1
        groups = np.split(nonzero, breaks)
        f_chan.append(np.array([g[0] for g in groups], np.int16))
        n_chan.append(np.array([len(g) for g in groups], np.int16))
        matrix.append(row[nonzero].astype(np.float64))
        n_grp.append(len(groups))
    edges = energy_axis_true.edges.to_value("TeV")
    cols = [
        fits.Column("ENERG_LO", "E", unit="TeV", array=edges[:-1]),
        fits.Column("ENERG_HI", "E", unit="TeV", array=edges[1:]),
        fits.Column("N_GRP", "I", array=np.array(n_grp, np.int16)),
        fits.Column("F_CHAN", "PI()", array=f_chan),
        fits.Column("N_CHAN", "PI()", array=n_chan),
        fits.Column("MATRIX", "PD()", array=matrix),
    ]
    hdu = fits.BinTableHDU.from_columns(cols, name="MATRIX")
    hdu.header.update({
        "HDUCLASS": "OGIP", "HDUCLAS1": "RESPONSE", "HDUCLAS2": "RSP_MATRIX", "HDUVERS": "1.3.0",
        "CHANTYPE": "PHA", "DETCHANS": energy_axis.nbin, "NUMGRP": int(sum(n_grp)),
        "NUMELT": int(sum(len(m) for m in matrix)), "TLMIN4": 0,
    })
    return fits.HDUList([fits.PrimaryHDU(), hdu, _ebounds_hdu(energy_axis)])


def _off_geom(dataset):
    regions = list(getattr(dataset, "off_regions", []) or [])
    if regions:
        return RegionGeom(regions_to_compound(regions), axes=dataset.counts.geom.axes, wcs=None)
    if dataset.counts_off is not None:
        return dataset.counts_off.geom
    return None


def write_ogip(dataset, filename, overwrite=False):
    """Write a `SpectrumDatasetOnOff` as OGIP PHA/BKG/ARF/RMF files (atomically, all or nothing)."""
    names = ogip_filenames(filename)
    energy_axis = dataset.counts.geom.axes["energy"]
    livetime = dataset.exposure.meta["livetime"].to_value("s")
    quality = ~dataset.mask_safe.data.ravel() if dataset.mask_safe is not None else np.zeros(energy_axis.nbin, bool)
    links = {"ANCRFILE": names["arf"].name}
    if dataset.counts_off is not None:
        links["BACKFILE"] = names["bkg"].name
    if dataset.edisp is not None:
        links["RESPFILE"] = names["rmf"].name
    acceptance = dataset.acceptance.data.ravel() if dataset.acceptance is not None else np.ones(energy_axis.nbin)
    pha = fits.HDUList([
        fits.PrimaryHDU(),
        _spectrum_hdu(dataset.counts.data.ravel(), quality, acceptance, "TOTAL", livetime, dataset.name, links),
        _ebounds_hdu(energy_axis),
        _region_table_hdu(dataset.counts.geom, "REGION"),
    ])
    if dataset.gti is not None:
        pha.append(dataset.gti.to_table_hdu(name="GTI"))
    files = {"pha": pha}
    if dataset.counts_off is not None:
        acceptance_off = dataset.acceptance_off.data.ravel()
        bkg = fits.HDUList([
            fits.PrimaryHDU(),
            _spectrum_hdu(dataset.counts_off.data.ravel(), quality, acceptance_off, "BKG", livetime, dataset.name, {}),
            _ebounds_hdu(energy_axis),
        ])
        off_geom = _off_geom(dataset)
        if off_geom is not None and off_geom.region is not None:
            bkg.append(_region_table_hdu(off_geom, "REGION"))
        files["bkg"] = bkg
    e_true = dataset.exposure.geom.axes["energy_true"]
    edges = e_true.edges.to_value("TeV")
    area = dataset.exposure.quantity.to_value("m2 s").ravel() / livetime
    arf = fits.BinTableHDU.from_columns([
        fits.Column("ENERG_LO", "D", unit="TeV", array=edges[:-1]),
        fits.Column("ENERG_HI", "D", unit="TeV", array=edges[1:]),
        fits.Column("SPECRESP", "D", unit="m2", array=area),
    ], name="SPECRESP")
    arf.header.update({"HDUCLASS": "OGIP", "HDUCLAS1": "RESPONSE", "HDUCLAS2": "SPECRESP", "HDUVERS": "1.1.0"})
    files["arf"] = fits.HDUList([fits.PrimaryHDU(), arf])
    if dataset.edisp is not None:
        kernel = dataset.edisp.edisp_map.data[..., 0, 0]
        files["rmf"] = _rmf_hdulist(kernel, e_true, energy_axis)
    keys = list(files)
    with atomic_paths([names[k] for k in keys], overwrite=overwrite) as temporary:
        for key, tmp in zip(keys, temporary):
            files[key].writeto(tmp)


def _energy_axis_from_ebounds(hdu):
    lo = np.asarray(hdu.data["E_MIN"], float)
    hi = np.asarray(hdu.data["E_MAX"], float)
    unit = hdu.columns["E_MIN"].unit or "TeV"
    return MapAxis.from_edges(np.append(lo, hi[-1]) * u.Unit(unit), interp="log", name="energy")


def _open(path, what):
    try:
        hdulist = fits.open(io.BytesIO(Path(path).read_bytes()), memmap=False)
        for hdu in hdulist:
            hdu.data  # noqa: B018  (load now, so damaged data fail here)
        return hdulist
    except FileNotFoundError:
        raise DataFormatError(f"{what} file is missing", filename=path) from None
    except Exception as exc:
        raise DataFormatError(f"cannot read {what} file: {type(exc).__name__}: {exc}", filename=path) from exc


def read_ogip(filename):
    """Read an OGIP ON/OFF spectrum (PHA plus the BKG, ARF and RMF files it links to)."""
    from ..irf_maps import EDispKernelMap
    from ..spectrum import SpectrumDatasetOnOff

    path = Path(filename)
    pha = _open(path, "PHA")
    if "SPECTRUM" not in pha or "EBOUNDS" not in pha:
        raise DataFormatError("not an OGIP PHA file: SPECTRUM or EBOUNDS HDU missing", filename=path)
    spectrum = pha["SPECTRUM"]
    header = spectrum.header
    energy_axis = _energy_axis_from_ebounds(pha["EBOUNDS"])
    region, wcs = _read_region(pha, "REGION")
    geom = RegionGeom(region, axes=[energy_axis], wcs=wcs)
    shape = geom.data_shape
    counts = Map.from_geom(geom, data=np.asarray(spectrum.data["COUNTS"], np.float32).reshape(shape))
    mask_safe = Map.from_geom(geom, data=(np.asarray(spectrum.data["QUALITY"]) == 0).reshape(shape), dtype=bool)
    acceptance = Map.from_geom(geom, data=np.asarray(spectrum.data["BACKSCAL"], float).reshape(shape))
    livetime = float(header["EXPOSURE"]) * u.s
    arf_name = header.get("ANCRFILE")
    if not arf_name:
        raise DataFormatError("PHA header has no ANCRFILE", filename=path)
    arf = _open(path.parent / arf_name, "ARF")["SPECRESP"]
    e_true = MapAxis.from_edges(
        np.append(arf.data["ENERG_LO"], arf.data["ENERG_HI"][-1]) * u.TeV, interp="log", name="energy_true"
    )
    geom_true = geom.to_image().to_cube([e_true])
    exposure_data = (np.asarray(arf.data["SPECRESP"], float) * livetime.to_value("s")).reshape(geom_true.data_shape)
    exposure = Map.from_geom(geom_true, data=exposure_data, unit="m2 s", meta={"livetime": livetime})
    kwargs = {"counts": counts, "exposure": exposure, "mask_safe": mask_safe, "acceptance": acceptance,
              "name": str(header.get("OBS_ID", path.stem))}
    if header.get("BACKFILE"):
        bkg = _open(path.parent / header["BACKFILE"], "BKG")
        kwargs["counts_off"] = Map.from_geom(
            geom, data=np.asarray(bkg["SPECTRUM"].data["COUNTS"], np.float32).reshape(shape)
        )
        kwargs["acceptance_off"] = Map.from_geom(
            geom, data=np.asarray(bkg["SPECTRUM"].data["BACKSCAL"], float).reshape(shape)
        )
        if "REGION" in bkg:
            off_region, _ = _read_region(bkg, "REGION")
            from ...geom._regions import compound_to_regions

            kwargs["off_regions"] = compound_to_regions(off_region)
    if header.get("RESPFILE"):
        rmf = _open(path.parent / header["RESPFILE"], "RMF")["MATRIX"]
        kernel = np.zeros((e_true.nbin, energy_axis.nbin))
        for k, (f_chan, n_chan, values) in enumerate(zip(rmf.data["F_CHAN"], rmf.data["N_CHAN"], rmf.data["MATRIX"])):
            position = 0
            for first, count in zip(np.atleast_1d(f_chan), np.atleast_1d(n_chan)):
                kernel[k, first : first + count] = values[position : position + count]
                position += count
        edisp_geom = geom.to_image().to_cube([energy_axis, e_true])
        edisp_exposure = Map.from_geom(geom.to_image().to_cube([energy_axis.squash(), e_true]),
                                       data=exposure_data.reshape(e_true.nbin, 1, 1, 1), unit="m2 s")
        kwargs["edisp"] = EDispKernelMap(
            Map.from_geom(edisp_geom, data=kernel.reshape(edisp_geom.data_shape)), edisp_exposure
        )
    if "GTI" in pha:
        kwargs["gti"] = GTI.from_table_hdu(pha["GTI"])
    return SpectrumDatasetOnOff(**kwargs)
