"""`ObservationBrowser`: the observation index as a table, with filter controls and a run selection.

The filter is an `~dl3lab.reduction.data.obs_selection.ObservationFilter` (validated
traits); the browser shows its controls, the rows that pass it and a selection list.
The selection is the ``selected_obs_ids`` trait; with a pipeline it is linked to the
pipeline's ``obs_ids``, so either side follows the other.
"""

import html
import math

import ipywidgets as widgets
import traitlets

from dl3lab.reduction.data.obs_selection import ObservationFilter, observation_summary
from dl3lab.reduction.errors import DL3LabError

from .controls import TraitControl

__all__ = ["ObservationBrowser"]

_FILTER_LABELS = {
    "lon": "target lon (deg)",
    "lat": "target lat (deg)",
    "frame": "target frame",
    "max_distance": "max distance (deg)",
    "zenith_min": "zenith min (deg)",
    "zenith_max": "zenith max (deg)",
    "min_livetime": "min livetime (s)",
    "object_name": "object contains",
}
_COLUMNS = (("OBS_ID", "obs id", "{}"), ("OBJECT", "object", "{}"), ("RA_PNT", "RA (deg)", "{:.3f}"),
            ("DEC_PNT", "Dec (deg)", "{:.3f}"), ("DISTANCE", "distance (deg)", "{:.2f}"),
            ("ZENITH", "zenith (deg)", "{:.1f}"), ("LIVETIME", "livetime (s)", "{:.0f}"))


def _cell(row, name, template):
    """Plain text of one summary value ("-" when missing)."""
    value = row[name]
    if name == "OBS_ID":
        value = int(value)
    elif name != "OBJECT":
        value = float(value)
        if not math.isfinite(value):
            return "-"
    return template.format(value)


def _error_html(exc):
    return f"<span style='color:#b00020'>{html.escape(str(exc))}</span>"


class ObservationBrowser(widgets.VBox):
    """Browse the observation index, filter it and select observations.

    Parameters
    ----------
    data_store : `~dl3lab.reduction.DataStore` or `~astropy.table.Table`
        Data store with an observation index, or the index table itself.
    pipeline : `~dl3lab.reduction.pipeline.ReductionPipeline`, optional
        When given, ``selected_obs_ids`` is linked to ``pipeline.obs_ids`` (starting
        from the pipeline's value), and the filter target starts at the geometry centre.
    obs_filter : `~dl3lab.reduction.data.obs_selection.ObservationFilter`, optional
        The filter to edit (a new one by default).
    max_rows : int
        Rows shown in the table at most.

    Attributes
    ----------
    selected_obs_ids : list of int
        The selection; selections made here are in observation-index order.
    filtered_obs_ids : list of int
        Ids passing the filter (empty while the filter reports an error).
    """

    selected_obs_ids = traitlets.List(traitlets.Int())
    filtered_obs_ids = traitlets.List(traitlets.Int(), read_only=True)

    def __init__(self, data_store, pipeline=None, obs_filter=None, max_rows=500):
        if obs_filter is None:
            obs_filter = ObservationFilter()
            if pipeline is not None:
                geometry = pipeline.geometry
                obs_filter.update({"frame": geometry.frame, "lon": geometry.lon, "lat": geometry.lat})
        self.obs_filter = obs_filter
        self.data_store = data_store
        self.pipeline = pipeline
        self.max_rows = int(max_rows)
        # Fails early (with the file named) when there is no observation index.
        self._all_ids = [int(i) for i in observation_summary(data_store)["OBS_ID"]]
        self._summary = None
        self._updating = False

        self.controls = {name: TraitControl(obs_filter, name, label) for name, label in _FILTER_LABELS.items()}
        self.error = widgets.HTML(value="")
        self.count = widgets.HTML(value="")
        self.table = widgets.HTML(value="", layout=widgets.Layout(max_height="320px", overflow="auto"))
        self.selection = widgets.SelectMultiple(options=[], rows=10, description="selected",
                                                layout=widgets.Layout(width="95%"))
        self.select_filtered_button = widgets.Button(description="Select all filtered", icon="check-square")
        self.clear_button = widgets.Button(description="Clear selection", icon="square")
        self.select_filtered_button.on_click(lambda _: self.select_filtered())
        self.clear_button.on_click(lambda _: self.clear_selection())

        controls = list(self.controls.values())
        super().__init__([
            widgets.HBox([widgets.VBox(controls[:4]), widgets.VBox(controls[4:])]),
            self.error, self.count, self.table, self.selection,
            widgets.HBox([self.select_filtered_button, self.clear_button]),
        ])
        self.selection.observe(self._selection_edited, names="value")
        self.observe(self._selection_changed, names="selected_obs_ids")
        obs_filter.observe(self._filter_changed, names=traitlets.All)
        self._observing = True
        self._link = None
        if pipeline is not None:
            self._link = traitlets.link((pipeline, "obs_ids"), (self, "selected_obs_ids"))
        self._filter_changed()

    # --------------------------------------------------------------- actions
    def select_filtered(self):
        """Select exactly the observations that pass the filter."""
        self.selected_obs_ids = list(self.filtered_obs_ids)

    def clear_selection(self):
        """Select no observation."""
        self.selected_obs_ids = []

    # ------------------------------------------------------------- internals
    def _filter_changed(self, change=None):
        try:
            self._summary = self.obs_filter.summary(self.data_store)
            filtered = self.obs_filter.select(self.data_store)
        except (DL3LabError, ValueError, TypeError) as exc:
            self.error.value = _error_html(exc)
            filtered = []
        else:
            self.error.value = ""
        self.set_trait("filtered_obs_ids", filtered)
        self._refresh()

    def _selection_edited(self, change):
        if self._updating:
            return
        chosen = set(change["new"])
        self.selected_obs_ids = [obs_id for _, obs_id in self.selection.options if obs_id in chosen]

    def _selection_changed(self, change):
        self._refresh()

    @staticmethod
    def _label(obs_id, rows, filtered):
        row = rows.get(obs_id)
        if row is None:
            return f"{obs_id}  (not in the observation index)"
        marker = "" if obs_id in filtered else "  (filtered out)"
        return (f"{obs_id}  {row['OBJECT']}  d={_cell(row, 'DISTANCE', '{:.2f}')} deg  "
                f"zen={_cell(row, 'ZENITH', '{:.1f}')} deg  {_cell(row, 'LIVETIME', '{:.0f}')} s{marker}")

    def _refresh(self):
        """Redraw the count, the table and the selection list from the filter and the selection."""
        if self._summary is None:
            return
        filtered = set(self.filtered_obs_ids)
        selected = set(self.selected_obs_ids)
        rows = {int(row["OBS_ID"]): row for row in self._summary}
        shown = [i for i in self._all_ids if i in filtered or i in selected]
        shown += [i for i in self.selected_obs_ids if i not in rows]
        options = [(self._label(i, rows, filtered), i) for i in shown]
        self._updating = True
        try:
            if list(self.selection.options) != options:
                self.selection.options = options
            self.selection.value = tuple(i for i in shown if i in selected)
        finally:
            self._updating = False
        self.count.value = (f"{len(self.filtered_obs_ids)} of {len(self._all_ids)} observations pass the filter; "
                            f"{len(self.selected_obs_ids)} selected")
        self.table.value = self._table_html(rows, filtered, selected)

    def _table_html(self, rows, filtered, selected):
        ids = [i for i in self._all_ids if i in filtered]
        head = "".join(f"<th style='padding:0 6px'>{label}</th>" for _, label, _ in _COLUMNS)
        lines = []
        for obs_id in ids[: self.max_rows]:
            row = rows[obs_id]
            cells = "".join(f"<td style='padding:0 6px'>{html.escape(_cell(row, name, template))}</td>"
                            for name, _, template in _COLUMNS)
            mark = "&#10003;" if obs_id in selected else ""
            lines.append(f"<tr><td>{mark}</td>{cells}</tr>")
        more = len(ids) - self.max_rows
        note = f"<p>{more} more rows not shown</p>" if more > 0 else ""
        return (f"<table style='font-size:12px;font-family:monospace'><tr><th></th>{head}</tr>"
                f"{''.join(lines)}</table>{note}")

    def close(self):
        if getattr(self, "_link", None) is not None:  # attributes are absent if __init__ failed
            self._link.unlink()
            self._link = None
        if getattr(self, "_observing", False):
            self.obs_filter.unobserve(self._filter_changed, names=traitlets.All)
            self._observing = False
        for control in getattr(self, "controls", {}).values():
            control.close()
        super().close()
